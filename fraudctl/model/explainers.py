"""Per-feature SHAP contributions (log-odds) for any fitted model, by the best means it has.

- ``native``: the library's own exact tree SHAP (LightGBM ``pred_contrib``, XGBoost
  ``pred_contribs``, CatBoost ``ShapValues``), categorical splits included;
- ``tree``: shap's exact ``TreeExplainer`` (scikit-learn's boosting), kept only where its
  values add up to the model's log-odds;
- ``agnostic``: shap's permutation explainer on the model's log-odds against a background
  sample (forests, whose tree SHAP is in probabilities, linear models, the neural
  network, blends and bags). It needs that sample; a
  caller without one (a single request to the API) gets :class:`NotExplainable`.

In every case a row's contributions add up to its log-odds minus the base value.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from fraudctl.errors import FraudctlError

BACKGROUND_ROWS = 100
# the permutation explainer calls the model ~2 x features x background rows per row
AGNOSTIC_MAX_ROWS = 200


class NotExplainable(FraudctlError):
    """This model has no exact explainer and no background sample was given."""


def explainer_kind(estimator: Any, kind: str) -> str:
    from fraudctl.model.ensemble import BlendClassifier
    from fraudctl.model.families import family

    if isinstance(estimator, BlendClassifier):
        return "agnostic"
    return family(kind).explainer


def contributions(
    estimator: Any,
    kind: str,
    rows: pd.DataFrame,
    background: pd.DataFrame | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, float]:
    """(rows x features) SHAP values for the fraud class and the base value, in log-odds."""
    how = explainer_kind(estimator, kind)
    if how == "native":
        from fraudctl.model.families import family

        native = family(kind).contributions
        assert native is not None, f"family {kind} says native but has no contributions"
        return native(estimator, rows)
    if how == "tree":
        exact = _tree(estimator, rows)
        if exact is not None:
            return exact
    if background is None:
        raise NotExplainable(
            f"a {kind} model has no exact explainer; its explanations need a background "
            "sample of rows (the fairness stage's SHAP report has them)"
        )
    return _agnostic(estimator, kind, rows, background, seed)


def _tree(estimator: Any, rows: pd.DataFrame) -> tuple[np.ndarray, float] | None:
    """shap's TreeExplainer, or None where its values do not add up to the model's
    log-odds (it reads categorical splits of scikit-learn's boosting as numeric ones)."""
    import shap

    from fraudctl.model.ensemble import log_odds

    explainer = shap.TreeExplainer(estimator)
    raw = explainer.shap_values(rows, check_additivity=False)  # checked below, in log-odds
    base = np.atleast_1d(np.asarray(explainer.expected_value, dtype=float))
    values = np.asarray(raw)
    if isinstance(raw, list):  # one array per class
        values, offset = np.asarray(raw[1]), float(base[1])
    elif values.ndim == 3:  # (rows, features, classes)
        values, offset = values[:, :, 1], float(base[1])
    else:
        offset = float(base[-1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        expected = log_odds(estimator.predict_proba(rows)[:, 1])
    if not np.allclose(values.sum(axis=1) + offset, expected, atol=1e-4):
        return None
    return values, offset


def _agnostic(
    estimator: Any, kind: str, rows: pd.DataFrame, background: pd.DataFrame, seed: int
) -> tuple[np.ndarray, float]:
    """The permutation explainer scores about 2 x features x background rows per row
    explained, so the model is scored by serving's scorer (trees compiled, no per-call
    input checks): a blend's SHAP report took 50 s on 200 rows through predict_proba."""
    import shap

    from fraudctl.model.ensemble import log_odds
    from fraudctl.model.scorers import scorer_for
    from fraudctl.model.shap_cache import cache_shap_kernels

    cache_shap_kernels()
    score, _ = scorer_for(kind, estimator)

    def model_log_odds(matrix: np.ndarray) -> np.ndarray:
        return log_odds(score(np.ascontiguousarray(matrix, dtype=np.float64)))

    sample = background.sample(n=min(BACKGROUND_ROWS, len(background)), random_state=seed)
    masker = shap.maskers.Independent(sample.to_numpy(dtype=np.float64), max_samples=len(sample))
    explainer = shap.PermutationExplainer(model_log_odds, masker, seed=seed)
    explanation = explainer(rows.to_numpy(dtype=np.float64), silent=True)
    base = np.asarray(explanation.base_values, dtype=float).reshape(-1)
    return np.asarray(explanation.values), float(base[0])
