"""``fraudctl tune``: an Optuna search over one family's hyper-parameters, scored honestly.

Each trial is the mean PR-AUC of the prequential folds (:mod:`fraudctl.model.selection`)
on the training period; the test split is never read. After each fold a trial reports its
running mean, and Optuna's median pruner stops one that is already below the median of
earlier trials at that fold. Every trial is a nested MLflow run with its parameters and
fold scores. The study lives in ``tune.storage`` (SQLite beside the MLflow store), keyed
by family, search space and data, so running the command again resumes the search up to
``--trials`` finished trials instead of starting over.

The best configuration is written to ``reports/tune/best.yaml`` as a params fragment and
as the ``dvc exp run -S`` arguments that apply it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from fraudctl import tracking
from fraudctl.config import Params, SearchRange
from fraudctl.errors import ConfigError
from fraudctl.features.outputs import load_schema, load_split
from fraudctl.io import atomic_path
from fraudctl.model.families import ModelSpec, model_spec
from fraudctl.model.fitting import fingerprint
from fraudctl.paths import ProjectPaths
from fraudctl.progress import Progress, quiet

TUNING_EXPERIMENT_SUFFIX = "-tuning"


@dataclass
class TuneResult:
    study: str
    family: str
    finished: int
    ran: int
    pruned: int
    best_value: float
    best_params: dict[str, Any]
    seconds: float
    output: Any


def suggest(trial: Any, name: str, space: SearchRange) -> Any:
    if space.choices is not None:
        return trial.suggest_categorical(name, space.choices)
    if isinstance(space.low, int) and isinstance(space.high, int):
        return trial.suggest_int(name, space.low, space.high, log=space.log)
    return trial.suggest_float(name, float(space.low), float(space.high), log=space.log)


def study_name(params: Params, family: str, data_fingerprint: str) -> str:
    """Same family, search space, folds and data -> same study (so a run resumes it)."""
    space = params.tune.search_space[family]
    key = json.dumps(
        {
            "space": {k: v.model_dump() for k, v in sorted(space.items())},
            "selection": params.selection.model_dump(),
            "seed": params.base.seed,
            "data": data_fingerprint,
        },
        sort_keys=True,
        default=str,
    )
    return f"{family}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def run(
    params: Params,
    paths: ProjectPaths,
    family: str | None = None,
    trials: int | None = None,
    timeout: float | None = None,
    fresh: bool = False,
    progress: Progress = quiet,
    on_trial: Callable[[int, int], None] | None = None,
) -> TuneResult:
    import optuna

    from fraudctl.model.selection import cross_validate

    model = model_spec(params.model)
    family = family or model.searched_family()
    if family not in params.tune.search_space:
        raise ConfigError(
            f"tune.search_space: no search space for {family!r} (declared: "
            f"{', '.join(params.tune.search_space) or 'none'}); add one to params.yaml"
        )
    if params.selection.folds < 2:
        raise ConfigError("selection.folds: tuning needs 2 or more prequential folds")
    space = params.tune.search_space[family]
    budget = trials or params.tune.trials
    timeout = timeout if timeout is not None else params.tune.timeout

    schema = load_schema(paths)
    progress("loading the training period")
    period = pd.concat([load_split(paths, "train"), load_split(paths, "validation")])
    period = period.reset_index(drop=True)
    name = study_name(params, family, fingerprint(period[[*schema.features, schema.target]]))

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = params.tune.storage
    if fresh:
        with contextlib.suppress(KeyError):  # no stored study yet
            optuna.delete_study(study_name=name, storage=storage)
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        load_if_exists=True,
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=params.base.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=params.tune.startup_trials),
    )
    finished_states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    done = len(study.get_trials(deepcopy=False, states=finished_states))
    remaining = max(budget - done, 0)
    started = time.perf_counter()
    ran = 0

    with tracking.run(
        params.tracking,
        params.tracking.experiment + TUNING_EXPERIMENT_SUFFIX,
        run_name=f"tune-{family}",
    ):
        tracking.set_tags({"fraudctl.study": name, "fraudctl.storage": storage})
        tracking.log_params({"family": family, "trials": budget, "folds": params.selection.folds})

        def objective(trial: Any) -> float:
            values = {key: suggest(trial, key, rng) for key, rng in space.items()}
            trial_model = model.with_section(family, values, "tune.search_space")
            fold_scores: list[float] = []

            def after_fold(number: int, score: float) -> None:
                fold_scores.append(score)
                trial.report(sum(fold_scores) / len(fold_scores), number)
                if trial.should_prune():
                    _log_trial(trial.number, values, fold_scores, "pruned")
                    raise optuna.TrialPruned()

            cv = cross_validate(
                trial_model,
                params.base.seed,
                params.selection,
                period,
                schema,
                after_fold=after_fold,
            )
            _log_trial(trial.number, values, fold_scores, "complete")
            return cv.mean_pr_auc

        def after_trial(study: Any, trial: Any) -> None:
            nonlocal ran
            ran += 1
            best = study.best_value if study.best_trial else float("nan")
            outcome = (
                f"{trial.value:.4f}"
                if trial.value is not None
                else f"pruned after fold {(trial.last_step or 0)}"
            )
            progress(f"trial {done + ran}/{budget}: {outcome}; best {best:.4f}")
            if on_trial is not None:
                on_trial(done + ran, budget)

        if remaining:
            progress(f"study {name}: {done} finished trial(s), running up to {remaining} more")
            study.optimize(
                objective,
                n_trials=remaining,
                timeout=timeout,
                callbacks=[after_trial],
                catch=(),
            )
        completed = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if not completed:
            raise ConfigError(f"tune: study {name} has no completed trial yet; run it longer")
        best = study.best_trial
        tracking.log_metrics({"best_mean_pr_auc": best.value})
        tracking.log_params({f"best.{k}": v for k, v in best.params.items()})

    finished = len(study.get_trials(deepcopy=False, states=finished_states))
    pruned = finished - len(completed)
    output = write_best(paths, params, model, family, name, best, finished)
    return TuneResult(
        study=name,
        family=family,
        finished=finished,
        ran=ran,
        pruned=pruned,
        best_value=float(best.value),
        best_params=dict(best.params),
        seconds=time.perf_counter() - started,
        output=output,
    )


def _log_trial(number: int, values: dict[str, Any], fold_scores: list[float], state: str) -> None:
    with tracking.nested_run(f"trial-{number}"):
        tracking.log_params(values)
        tracking.set_tags({"fraudctl.trial_state": state})
        metrics = {f"fold{i}_pr_auc": v for i, v in enumerate(fold_scores, 1)}
        if fold_scores:
            metrics["mean_pr_auc"] = sum(fold_scores) / len(fold_scores)
        tracking.log_metrics(metrics)


def apply_arguments(family: str, values: dict[str, Any]) -> list[str]:
    """``dvc exp run`` arguments that set these values in params.yaml."""
    return [f"-S model.{family}.{key}={value}" for key, value in values.items()]


def write_best(
    paths: ProjectPaths,
    params: Params,
    model: ModelSpec,
    family: str,
    study: str,
    best: Any,
    finished: int,
) -> Any:
    import yaml

    values = {
        key: (round(value, 6) if isinstance(value, float) else value)
        for key, value in best.params.items()
    }
    # a member of the chosen blend is tuned for the blend: applying it keeps model.name
    members = getattr(model.section(), "members", ())
    member = family != model.name and family in members
    choose = [] if member else [f"-S model.name={family}"]
    command = " ".join(["dvc exp run", *choose, *apply_arguments(family, values)])
    header = (
        f"# Best of {finished} trial(s) in study {study} ({params.tune.storage}):\n"
        f"# mean out-of-fold PR-AUC {best.value:.4f} over {params.selection.folds} "
        "prequential folds of the training period.\n"
        f"# Apply with:\n#   {command}\n"
        "# or copy the block below into params.yaml.\n"
    )
    block = {family: values} if member else {"name": family, family: values}
    body = yaml.safe_dump({"model": block}, sort_keys=False)
    target = paths.tune_dir / "best.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as staging:
        staging.write_text(header + body, encoding="utf-8")
    return target
