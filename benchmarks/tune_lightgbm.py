"""Choose LightGBM defaults on the validation split only (the test split is never scored here).

Run after `fraudctl data` has prepared a dataset (e.g. the real ULB table):
    python benchmarks/tune_lightgbm.py [--prepared data/prepared]
Prints validation PR-AUC (mean over 3 seeds) and fit time for a small grid.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from sklearn.metrics import average_precision_score

GRID = {
    "learning_rate": [0.02, 0.05],
    "num_leaves": [7, 15, 31],
    "min_child_samples": [20, 100],
    "colsample_bytree": [0.3, 0.6],
}
FIXED = {
    "n_estimators": 500,
    "subsample": 0.8,
    "subsample_freq": 1,
    "reg_lambda": 5.0,
    "n_jobs": 2,
    "verbose": -1,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prepared", type=Path, default=Path("data/prepared"))
    args = parser.parse_args()
    train = pd.read_parquet(args.prepared / "train.parquet")
    val = pd.read_parquet(args.prepared / "validation.parquet")
    features = [c for c in train.columns if c not in ("Time", "Class")]
    rows = []
    for values in itertools.product(*GRID.values()):
        config = dict(zip(GRID, values, strict=True))
        scores, seconds = [], []
        for seed in (0, 1, 2):
            model = LGBMClassifier(random_state=seed, **FIXED, **config)
            started = time.perf_counter()
            model.fit(train[features], train["Class"])
            seconds.append(time.perf_counter() - started)
            scores.append(
                average_precision_score(val["Class"], model.predict_proba(val[features])[:, 1])
            )
        rows.append(
            {
                **config,
                "val_pr_auc": np.mean(scores),
                "sd": np.std(scores),
                "fit_s": np.mean(seconds),
            }
        )
        print(rows[-1], flush=True)
    print(
        pd.DataFrame(rows).sort_values("val_pr_auc", ascending=False).head(8).to_string(index=False)
    )


if __name__ == "__main__":
    main()
