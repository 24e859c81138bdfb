"""Fit one AutoML system on a training table and score a test table (benchmarks/quality.py).

    <venv>/bin/python benchmarks/automl_runner.py autogluon|flaml --train T.parquet
        --test X.parquet --label COLUMN --time-limit SECONDS --threads N --seed N
        --workdir DIR --scores OUT.parquet --report OUT.json

It runs inside the system's own virtualenv (``make .venv-autogluon/.installed`` or
``make .venv-flaml/.installed``), where fraudctl is not installed: it imports nothing from
the project, only the system, pandas and the standard library. The benchmark scores the
probabilities it writes with fraudctl's metric code, so every system is measured the same
way. The time limit is the system's own (AutoGluon's ``time_limit``, FLAML's
``time_budget``); the report gives the fit's and the prediction's wall seconds.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import pandas as pd


def autogluon(train: pd.DataFrame, test: pd.DataFrame, args: argparse.Namespace) -> dict[str, Any]:
    """AutoGluon's ``medium_quality`` preset (no stacking), optimising average precision."""
    from importlib.metadata import version

    from autogluon.tabular import TabularPredictor

    predictor = TabularPredictor(
        label=args.label,
        problem_type="binary",
        eval_metric="average_precision",
        path=str(args.workdir / "autogluon"),
        verbosity=2,
    )
    started = time.perf_counter()
    predictor.fit(
        train,
        presets="medium_quality",
        time_limit=args.time_limit,
        num_cpus=args.threads,
        num_gpus=0,
    )
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    scores = predictor.predict_proba(test, as_multiclass=False).to_numpy()
    board = predictor.leaderboard(silent=True)
    return {
        "version": version("autogluon.tabular"),
        "settings": "medium_quality",
        "fit_s": fit_s,
        "predict_s": time.perf_counter() - started,
        "chosen": str(predictor.model_best),
        "models": len(board),
        "scores": scores,
    }


def flaml(train: pd.DataFrame, test: pd.DataFrame, args: argparse.Namespace) -> dict[str, Any]:
    """FLAML's AutoML (its default learners and cost-aware search), optimising average
    precision."""
    from importlib.metadata import version

    from flaml import AutoML

    automl = AutoML()
    started = time.perf_counter()
    automl.fit(
        X_train=train.drop(columns=[args.label]),
        y_train=train[args.label].to_numpy(),
        task="classification",
        metric="ap",
        time_budget=args.time_limit,
        n_jobs=args.threads,
        seed=args.seed,
        log_file_name=str(args.workdir / "flaml.log"),
        verbose=0,
    )
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    scores = automl.predict_proba(test)[:, 1]
    return {
        "version": version("flaml"),
        "settings": "defaults",
        "fit_s": fit_s,
        "predict_s": time.perf_counter() - started,
        "chosen": str(automl.best_estimator),
        "models": len(automl.best_config_per_estimator),
        "scores": scores,
    }


SYSTEMS = {"autogluon": autogluon, "flaml": flaml}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("system", choices=sorted(SYSTEMS))
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--test", type=Path, required=True)
    parser.add_argument("--label", required=True)
    parser.add_argument("--time-limit", type=float, required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--scores", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True)
    args = parser.parse_args()

    args.workdir.mkdir(parents=True, exist_ok=True)
    train = pd.read_parquet(args.train)
    test = pd.read_parquet(args.test)
    outcome = SYSTEMS[args.system](train, test, args)
    scores = outcome.pop("scores")
    if len(scores) != len(test):
        raise SystemExit(f"{args.system} scored {len(scores)} of {len(test)} test rows")
    pd.DataFrame({"score": scores}).to_parquet(args.scores)
    args.report.write_text(json.dumps(outcome, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
