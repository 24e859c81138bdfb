"""The manual's generated parts and its checks.

Pages in ``docs/`` and the README are written by hand, except between markers::

    <!-- generated:NAME -->
    ...
    <!-- /generated -->

whose content ``python -m docgen --write`` (``make docs-numbers``) renders from the files
commands write: benchmark results (``benchmarks/results/*.json``), walkthrough transcripts,
the parameter models. The rendered text is committed, so the pages read the same on the
repository host as on the published site, and ``python -m docgen --check`` (a test) fails
when a block is stale. The same package holds the checks that keep the hand-written rest
honest: no measured number outside a block (:mod:`docgen.numbers`) and references that
resolve (:mod:`docgen.references`).
"""
