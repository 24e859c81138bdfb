"""Decisions of a loaded model: its probability, then its own rules, then its threshold.

:class:`~fraudctl.model.bundle.FraudModel` inherits these methods; every door that decides
(evaluate, ``score`` on both engines, the pyfunc, the web app, serving, the loop) calls
one of them, so the model's rules (:mod:`fraudctl.model.rulebook`) are applied by one
library (:mod:`fraudctl.rules.decide`) wherever a transaction is decided.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from fraudctl.rules.decide import Decision, Decisions, decide_batch, decide_row, model_decision
from fraudctl.rules.fields import columns_of, row_of

if TYPE_CHECKING:
    import pandas as pd

    from fraudctl.rules.ruleset import RuleSet


class Deciding:
    """What a model with ``rules``, ``threshold``, ``features``, ``inputs`` and
    ``probabilities`` decides."""

    rules: RuleSet
    threshold: float
    features: list[str]

    def inputs(self, raw: pd.DataFrame, history: pd.DataFrame | None = None) -> np.ndarray: ...

    def probabilities(self, matrix: np.ndarray, threads: int = 1) -> np.ndarray: ...

    def _matrix_pieces(
        self, raw: pd.DataFrame, history: pd.DataFrame | None
    ) -> Iterator[tuple[slice, np.ndarray]]: ...

    def decide(self, raw: pd.DataFrame, history: pd.DataFrame | None = None) -> Decisions:
        """Raw rows -> each row's probability, decision (block, review, allow) and deciding
        rule (None where the model decided), with the model's own rules."""
        inputs = self.inputs(raw, history)
        probabilities = self.probabilities(inputs, threads=os.cpu_count() or 1)
        return self.decide_inputs(raw, inputs, probabilities)

    def decide_inputs(self, raw: Any, inputs: np.ndarray, probabilities: Any) -> Decisions:
        """A batch whose model inputs and probabilities are known: ``raw`` maps each raw
        field to a column (a DataFrame, or a dict of arrays for a columnar request)."""
        return decide_batch(
            self.rules, columns_of(raw, inputs, self.features), probabilities, self.threshold
        )

    def decide_one(
        self, row: Mapping[str, Any], inputs: np.ndarray, probability: float
    ) -> Decision:
        """One transaction (a server's path): ``row`` its raw fields, ``inputs`` its model
        input vector; rules are evaluated in plain Python, stopping at the first that fires."""
        if not self.rules:
            return Decision(model_decision(probability, self.threshold), None, float(probability))
        return decide_row(
            self.rules, row_of(row, inputs, self.features), probability, self.threshold
        )

    def decision_pieces(
        self, raw: pd.DataFrame, history: pd.DataFrame | None = None
    ) -> Iterator[tuple[slice, Decisions]]:
        """:meth:`decide` a slice of rows at a time, as :meth:`probability_pieces` scores
        them (a rule reads one row's fields: a slice decides as the whole table would)."""
        threads = os.cpu_count() or 1
        for rows, matrix in self._matrix_pieces(raw, history):
            probabilities = self.probabilities(matrix, threads=threads)
            yield rows, self.decide_inputs(raw.iloc[rows], matrix, probabilities)
