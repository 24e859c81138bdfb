"""Every entry point of the pipeline, one module per DVC stage or command.

A stage reads params (:mod:`fraudctl.stages.project`), picks the engine with direct
references to its code, hands each library call only the section it reads, and talks to
MLflow (:mod:`fraudctl.tracking`). The libraries below (``data``, ``features``, ``model``,
``experiments``, ``distributed``) never import a stage, the CLI, serving, the web app or
the loop, and never take the whole parameter object.
"""
