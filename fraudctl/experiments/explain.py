"""SHAP explanations of the trained model: what drives scores overall, and per alert.

Tree models get exact tree SHAP over a bounded sample (seconds); other models a
permutation explainer over a smaller one (:mod:`fraudctl.model.explainers`). Values are in
log-odds, and for every row they add up to the model's log-odds minus the base value.
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


def shap_values(
    estimator: Any, rows: pd.DataFrame, kind: str, background: pd.DataFrame | None = None
) -> tuple[np.ndarray, float]:
    """(rows x features) SHAP values for the fraud class and the base value, in log-odds."""
    from fraudctl.model.explainers import contributions

    with warnings.catch_warnings():
        # shap announces that LightGBM's output format changed; both formats are handled.
        warnings.filterwarnings("ignore", message="LightGBM binary classifier")
        return contributions(estimator, kind, rows, background)


def _save(path: Path) -> None:
    """shap draws on pyplot's current figure; save and free it."""
    from fraudctl.model.plots import pyplot, save_figure

    save_figure(pyplot().gcf(), path)


def explain_model(
    estimator: Any,
    kind: str,
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

    from fraudctl.model.explainers import AGNOSTIC_MAX_ROWS, explainer_kind

    features = list(schema.features)
    exact = explainer_kind(estimator, kind) != "agnostic"
    size = min(settings.shap_rows, len(test), *([] if exact else [AGNOSTIC_MAX_ROWS]))
    sample = test.sample(n=size, random_state=seed)[features]
    background = test[features]  # for a model without an exact explainer
    values, base = shap_values(estimator, sample, kind, background)
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
        local_values, _ = shap_values(estimator, rows, kind, background)
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
        "explainer": "exact" if exact else "permutation (model-agnostic)",
        "base_value": base,
        "top_features": top[:10],
        "local": [{k: v for k, v in item.items() if k != "contributions"} for item in local],
    }
    return Explanation(summary=summary, outputs=outputs)
