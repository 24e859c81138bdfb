"""Rules beside the model: conditions over raw fields and history features, written in
params.yaml, parsed (never evaluated as code), checked against a model's fields, and
combined with the model's probability into one decision (docs/rules.md).

- :mod:`~fraudctl.rules.syntax`: the language (tokenizer, parser, AST, canonical text);
  imports no fraudctl library, so the params loader uses it;
- :mod:`~fraudctl.rules.ruleset`: a rule set in decision order;
- :mod:`~fraudctl.rules.check`: unknown fields and type mismatches, with key paths;
- :mod:`~fraudctl.rules.evaluate`: a batch over columns, one row in plain Python;
- :mod:`~fraudctl.rules.decide`: the decision (``decision``, ``rule``, ``probability``).
"""
