"""SHAP explanations of the trained model: what drives scores overall, and per alert.

Exact tree SHAP (``TreeExplainer`` in its default path-dependent mode) over a bounded
sample keeps this to seconds; values are in log-odds, and for every row they add up to
the model's raw score (checked here on every call, and by the tests).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fraudctl.config import FairnessParams
from fraudctl.data.schema import Schema
from fraudctl.io import write_json


@dataclass
class Explanation:
    summary: dict[str, Any]
    outputs: list[Path]


def shap_values(estimator: Any, rows: pd.DataFrame) -> tuple[np.ndarray, float]:
    """(rows x features) SHAP values for the fraud class and the base value, in log-odds."""
    import shap

    explainer = shap.TreeExplainer(getattr(estimator, "booster_", estimator))
    with warnings.catch_warnings():
        # shap announces that LightGBM's output format changed; the branches below handle both.
        warnings.filterwarnings("ignore", message="LightGBM binary classifier")
        raw = explainer.shap_values(rows, check_additivity=True)
    base = np.atleast_1d(np.asarray(explainer.expected_value, dtype=float))
    if isinstance(raw, list):  # one array per class
        return np.asarray(raw[1]), float(base[1])
    values = np.asarray(raw)
    if values.ndim == 3:  # (rows, features, classes), e.g. scikit-learn forests
        return values[:, :, 1], float(base[1])
    return values, float(base[-1])


def _save(path: Path) -> None:
    """shap draws on pyplot's current figure; save and free it."""
    from fraudctl.model.plots import pyplot, save_figure

    save_figure(pyplot().gcf(), path)


def explain_model(
    estimator: Any,
    test: pd.DataFrame,
    schema: Schema,
    scores: np.ndarray,
    settings: FairnessParams,
    seed: int,
    directory: Path,
) -> Explanation:
    from fraudctl.model.plots import pyplot

    pyplot()  # the Agg backend before shap imports pyplot
    import shap

    features = list(schema.features)
    size = min(settings.shap_rows, len(test))
    sample = test.sample(n=size, random_state=seed)[features]
    values, base = shap_values(estimator, sample)
    importance = np.abs(values).mean(axis=0)
    order = np.argsort(-importance)
    top = [{"feature": features[i], "mean_abs_shap": float(importance[i])} for i in order]

    outputs = [directory / "shap_bar.png", directory / "shap_beeswarm.png"]
    shap.summary_plot(
        values, sample, plot_type="bar", show=False, max_display=15, rng=np.random.default_rng(seed)
    )
    _save(outputs[0])
    shap.summary_plot(values, sample, show=False, max_display=15, rng=np.random.default_rng(seed))
    _save(outputs[1])

    local = []
    riskiest = np.argsort(-scores, kind="stable")[: settings.local_explanations]
    if riskiest.size:
        rows = test.iloc[riskiest][features]
        local_values, _ = shap_values(estimator, rows)
        for rank, (position, contributions) in enumerate(
            zip(riskiest, local_values, strict=True), 1
        ):
            ranked = np.argsort(-np.abs(contributions))
            local.append(
                {
                    "rank": rank,
                    "test_row": int(position),
                    "probability": float(scores[position]),
                    "is_fraud": int(test[schema.target].iloc[position]),
                    "base_value": base,
                    "contributions": {features[i]: float(contributions[i]) for i in ranked},
                }
            )
            shap.plots.waterfall(
                shap.Explanation(
                    values=contributions,
                    base_values=base,
                    data=rows.iloc[rank - 1].to_numpy(),
                    feature_names=features,
                ),
                max_display=12,
                show=False,
            )
            path = directory / "local" / f"rank{rank}_row{int(position)}.png"
            _save(path)
            outputs.append(path)
    local_path = directory / "local_explanations.json"
    write_json(local_path, local)
    top_path = directory / "shap_top_features.json"
    write_json(top_path, top)
    outputs += [local_path, top_path]
    summary = {
        "rows": size,
        "base_value": base,
        "top_features": top[:10],
        "local": [{k: v for k, v in item.items() if k != "contributions"} for item in local],
    }
    return Explanation(summary=summary, outputs=outputs)
