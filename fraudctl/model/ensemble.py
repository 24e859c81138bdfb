"""A blend of fitted models that is still one model: one ``predict_proba``, one payload.

- ``rank_average``: each member's score becomes its quantile among the member's scores on
  held-out training rows (a fixed reference saved with the model, so a row's score never
  depends on the rest of its batch); the blend is the mean quantile.
- ``stacking``: a logistic regression on the members' log-odds, fitted on held-out rows.
- ``mean``: the mean probability (balanced bagging's bags).

The held-out rows are the latest ``holdout`` share of the training rows (they arrive in
time order), so the blend is learnt on rows the members have not seen, as in production;
the members are then refitted on every training row. A blend that ``selection.budget``
chose takes its rank reference from the members' out-of-fold scores on the prequential
folds instead (:meth:`BlendClassifier.from_out_of_fold`): the folds already scored every
member on rows it had not seen, so no member is fitted twice. Both are saved alike.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

EPSILON = 1e-7
# quantile levels of the rank reference: even steps, denser in the upper tail where the
# frauds are, so ranks separate the top 0.01 % of scores
LEVELS = np.unique(
    np.concatenate([np.linspace(0.0, 1.0, 1001), 1.0 - np.geomspace(1e-5, 0.1, 400)])
)


def log_odds(probabilities: np.ndarray) -> np.ndarray:
    clipped = np.clip(probabilities, EPSILON, 1.0 - EPSILON)
    return np.log(clipped / (1.0 - clipped))


def rank_reference(scores: np.ndarray) -> np.ndarray:
    """Each member's score quantiles at ``LEVELS`` from held-out (rows, members) scores."""
    return np.maximum.accumulate(np.quantile(scores, LEVELS, axis=0), 0)


def rank_average(scores: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The mean of each member's quantile among its reference scores."""
    ranks = [np.interp(scores[:, i], reference[:, i], LEVELS) for i in range(scores.shape[1])]
    return np.mean(ranks, axis=0)


class BlendClassifier:
    def __init__(
        self,
        members: list[tuple[str, Any, dict[str, Any]]] | list[tuple[str, Any]],
        method: str = "rank_average",
        holdout: float = 0.25,
    ) -> None:
        # (kind, estimator[, fit options]): unfitted prototypes before fit, fitted after
        self._prototypes = [(m[0], m[1], m[2] if len(m) > 2 else {}) for m in members]
        self.members: list[tuple[str, Any]] = [(m[0], m[1]) for m in members]
        self.method = method
        self.holdout = holdout
        # where the rank reference came from: "holdout" (fit) or "out_of_fold" (selection)
        self.reference_from = "holdout"
        self.reference: np.ndarray | None = None
        self.coef: np.ndarray | None = None
        self.intercept = 0.0

    def __sklearn_is_fitted__(self) -> bool:
        """For scikit-learn's and fairlearn's checks on a pre-fitted model."""
        return True

    @property
    def classes_(self) -> np.ndarray:
        return np.array([0, 1])

    def _fit_members(self, rows: Any, labels: np.ndarray) -> list[tuple[str, Any]]:
        fitted = []
        for kind, prototype, options in self._prototypes:
            estimator = copy.deepcopy(prototype)
            estimator.fit(rows, labels, **options)
            fitted.append((kind, estimator))
        return fitted

    def fit(self, rows: Any, labels: Any, **_: Any) -> BlendClassifier:
        labels = np.asarray(labels)
        if self.method != "mean":
            cut = round(len(labels) * (1.0 - self.holdout))
            early, late = _take(rows, slice(0, cut)), _take(rows, slice(cut, None))
            if labels[:cut].min() == labels[:cut].max() or labels[cut:].max() == 0:
                raise ValueError(
                    "model.ensemble.holdout: the blend needs frauds both before and in the "
                    "held-out share of the training rows"
                )
            self.members = self._fit_members(early, labels[:cut])
            held_out = self._member_scores(late)
            if self.method == "rank_average":
                self.reference = rank_reference(held_out)
            else:
                from sklearn.linear_model import LogisticRegression

                stacker = LogisticRegression(C=1.0, max_iter=1000)
                stacker.fit(log_odds(held_out), labels[cut:])
                self.coef, self.intercept = stacker.coef_[0], float(stacker.intercept_[0])
        self.members = self._fit_members(rows, labels)
        return self

    @classmethod
    def from_out_of_fold(
        cls, members: list[tuple[str, Any]], out_of_fold: np.ndarray
    ) -> BlendClassifier:
        """A rank-average blend of members fitted on every training row, its reference the
        members' pooled out-of-fold scores (rows, members) from the prequential folds."""
        blend = cls(members, method="rank_average", holdout=0.0)
        blend.reference = rank_reference(out_of_fold)
        blend.reference_from = "out_of_fold"
        return blend

    def _member_scores(self, rows: Any) -> np.ndarray:
        return np.column_stack([m.predict_proba(rows)[:, 1] for _, m in self.members])

    def predict_proba(self, rows: Any) -> np.ndarray:
        blended = self.blend(self._member_scores(rows))
        return np.column_stack([1.0 - blended, blended])

    def blend(self, scores: np.ndarray) -> np.ndarray:
        """The fraud probability from the members' (rows, members) probabilities: serving
        scores the members its own fast way and blends here, so both paths agree."""
        if self.method == "rank_average":
            assert self.reference is not None
            blended = rank_average(scores, self.reference)
        elif self.method == "stacking":
            assert self.coef is not None
            blended = 1.0 / (1.0 + np.exp(-(log_odds(scores) @ self.coef + self.intercept)))
        else:
            blended = scores.mean(axis=1)
        return blended

    # --- the saved form (fraudctl.model.payloads writes the members) ---------------------

    def describe(self) -> dict[str, Any]:
        described = {
            "method": self.method,
            "holdout": self.holdout,
            "reference": None if self.reference is None else self.reference.tolist(),
            "coef": None if self.coef is None else self.coef.tolist(),
            "intercept": self.intercept,
        }
        if self.reference_from != "holdout":  # blends fitted with a holdout read as before
            described["reference_from"] = self.reference_from
        return described

    @classmethod
    def restore(
        cls, members: list[tuple[str, Any]], description: dict[str, Any]
    ) -> BlendClassifier:
        blend = cls(members, method=description["method"], holdout=description["holdout"])
        if description.get("reference") is not None:
            blend.reference = np.asarray(description["reference"], dtype=np.float64)
        if description.get("coef") is not None:
            blend.coef = np.asarray(description["coef"], dtype=np.float64)
        blend.intercept = float(description.get("intercept", 0.0))
        blend.reference_from = str(description.get("reference_from", "holdout"))
        return blend


def _take(rows: Any, part: slice) -> Any:
    return rows.iloc[part] if hasattr(rows, "iloc") else rows[part]
