"""``selection.budget``: choose a model within a planned number of seconds, never a clock.

1. **The anchor first.** ``model.name`` with its block is cross-validated on the prequential
   folds whatever the budget. Everything later must beat its mean out-of-fold PR-AUC to be
   chosen, so the chosen model is never below the configured one by that measure.
2. **A fixed portfolio, in order** (``selection.candidates`` first, then
   :data:`fraudctl.model.families.portfolio.PORTFOLIO`, each entry where the data suits
   it). An entry is tried only if the seconds its folds are predicted to take, plus the
   refit of the best model so far (or its own, if dearer), fit in what is left.
3. **Blends for free.** After each entry, every rank-average blend of two or three of the
   models tried so far is scored from their cached out-of-fold scores: no fit. A blend is
   chosen only by a better out-of-fold PR-AUC, and only if refitting its members fits.
4. **One refit** of the choice on the whole period; a blend's members are each fitted once
   and its rank reference is their pooled out-of-fold scores
   (:meth:`fraudctl.model.ensemble.BlendClassifier.from_out_of_fold`).

Seconds are predictions from each family's cost model (:mod:`fraudctl.model.costs`), so
the plan, and with it the model, depends on params and data only: two runs on any machines
choose the same model, and DVC reproduces it byte for byte. A machine slower or busier than
the reference takes longer; it never chooses differently. The measured seconds go to MLflow
(:meth:`Search.timings`), never into the tracked report.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fraudctl.config import SelectionParams
from fraudctl.data.schema import Schema
from fraudctl.errors import ConfigError
from fraudctl.model.costs import Cost, Shape, resampled
from fraudctl.model.ensemble import rank_average, rank_reference
from fraudctl.model.families import ENSEMBLE_FAMILY, ModelSpec, family
from fraudctl.model.families.portfolio import PORTFOLIO, Variant
from fraudctl.model.metrics import pr_auc
from fraudctl.model.selection import CrossValidation, Fold, cross_validate, period_folds
from fraudctl.progress import Progress, quiet

BLEND_SIZES = (2, 3)
WHERE = "selection.budget"


@dataclass
class Trial:
    """A model scored on the folds: the anchor, a portfolio entry or a blend of them."""

    name: str
    role: str  # anchor | candidate | blend
    model: ModelSpec
    fold_scores: list[np.ndarray]  # out-of-fold scores, one array per fold
    fold_pr_auc: list[float]
    cv_seconds: float  # predicted (a blend's folds cost nothing)
    refit_seconds: float  # predicted, on the whole period
    members: tuple[Trial, ...] = ()
    measured_seconds: float = 0.0  # the clock's; MLflow only

    @property
    def mean_pr_auc(self) -> float:
        return float(np.mean(self.fold_pr_auc))

    @property
    def pooled(self) -> np.ndarray:
        return np.concatenate(self.fold_scores)

    def entry(self) -> dict[str, Any]:
        described: dict[str, Any] = {"name": self.name, "role": self.role}
        described["model"] = self.model.name  # the family (a blend: the ensemble's)
        # three decimals: the network's fourth differs between CPUs (its matrix kernels)
        described["oof_pr_auc"] = round(self.mean_pr_auc, 3)
        described["fold_pr_auc"] = [round(v, 3) for v in self.fold_pr_auc]
        if self.role != "blend":
            described["predicted_cv_seconds"] = _seconds(self.cv_seconds)
        described["predicted_refit_seconds"] = _seconds(self.refit_seconds)
        return described


@dataclass(frozen=True)
class Skipped:
    name: str
    reason: str


@dataclass
class Search:
    budget: float
    folds: list[Fold]
    trials: list[Trial]
    skipped: list[Skipped]
    chosen: Trial
    spent: float  # predicted seconds of every fold run
    labels: np.ndarray  # of the validated rows, in the folds' order

    def cross_validation(self) -> CrossValidation:
        """The chosen model's folds, as a plain prequential run would report them."""
        return CrossValidation(
            folds=self.folds,
            scores=self.chosen.pooled,
            positions=np.concatenate([f.validation for f in self.folds]),
            fold_pr_auc=self.chosen.fold_pr_auc,
            seconds=sum(t.measured_seconds for t in self.trials),
        )

    def report(self) -> dict[str, Any]:
        """What was tried, in order, with predicted seconds only: deterministic."""
        return {
            "chosen": self.chosen.name,
            "candidates": {t.name: round(t.mean_pr_auc, 3) for t in self.trials},
            "budget": {
                "seconds": self.budget,
                "planned_seconds": _seconds(self.spent + self.chosen.refit_seconds),
                "tried": [t.entry() for t in self.trials],
                "skipped": [{"name": s.name, "reason": s.reason} for s in self.skipped],
            },
        }

    def timings(self) -> dict[str, float]:
        """Measured seconds of each model's folds: for MLflow, never for tracked files."""
        return {t.name: t.measured_seconds for t in self.trials if t.role != "blend"}


def _seconds(value: float) -> float | None:
    return None if math.isinf(value) else round(value, 1)


# --- predicted cost -----------------------------------------------------------------------


def predicted_fit(model: ModelSpec, shape: Shape, cost: Cost | None = None) -> float:
    """Predicted seconds of fitting ``model`` on ``shape`` (inf: a family without a cost
    model). A blend fitted with a holdout fits each member twice."""
    members = model.members()
    if members:
        holdout = float(getattr(model.section(), "holdout", 0.0))
        early = shape.with_rows(round(shape.rows * (1 - holdout)), shape.frauds)
        return sum(
            predicted_fit(model.named(m), early) + predicted_fit(model.named(m), shape)
            for m in members
        )
    cost = cost or family(model.name).cost
    if cost is None:
        return math.inf
    block = model.section().model_dump()
    return sum(cost.seconds(part, block) for part in resampled(shape, model.imbalance))


@dataclass(frozen=True)
class _Plan:
    """The shapes of the folds' fits and of the final refit."""

    folds: tuple[Shape, ...]
    period: Shape

    def cv(self, model: ModelSpec, cost: Cost | None = None) -> float:
        return sum(predicted_fit(model, shape, cost) for shape in self.folds)

    def refit(self, model: ModelSpec, cost: Cost | None = None) -> float:
        return predicted_fit(model, self.period, cost)


def _plan(folds: list[Fold], labels: np.ndarray, schema: Schema) -> _Plan:
    categorical = len(schema.categorical)
    numeric = len(schema.features) - categorical

    def shape(rows: np.ndarray | slice) -> Shape:
        chosen = labels[rows]
        return Shape(len(chosen), int(chosen.sum()), numeric, categorical)

    return _Plan(tuple(shape(f.train) for f in folds), shape(slice(None)))


# --- the search -----------------------------------------------------------------------------


@dataclass
class _Entry:
    name: str
    model: ModelSpec
    cost: Cost | None = None
    needs: tuple[str, ...] = ()
    unsuited: str | None = None
    explicit: bool = False  # named in selection.candidates: its errors are the user's


def _entries(model: ModelSpec, selection: SelectionParams, shape: Shape) -> list[_Entry]:
    entries = [_Entry(name, model.named(name), explicit=True) for name in selection.candidates]
    for variant in PORTFOLIO:
        entries.append(_variant(model, variant, shape))
    return entries


def _variant(model: ModelSpec, variant: Variant, shape: Shape) -> _Entry:
    spec = model.with_section(variant.family, dict(variant.settings), WHERE)
    return _Entry(variant.name, spec, variant.cost, variant.needs, variant.unsuited(shape))


def _identity(model: ModelSpec) -> str:
    return json.dumps([model.name, model.section().model_dump()], sort_keys=True, default=str)


def search(
    model: ModelSpec,
    seed: int,
    selection: SelectionParams,
    period: pd.DataFrame,
    schema: Schema,
    progress: Progress = quiet,
) -> Search:
    """The anchor, then the portfolio within ``selection.budget`` predicted seconds."""
    assert selection.budget is not None
    budget = float(selection.budget)
    labels = period[schema.target].to_numpy()
    folds = period_folds(selection, period, schema)
    plan = _plan(folds, labels, schema)
    validated = [labels[f.validation] for f in folds]

    def run(name: str, role: str, spec: ModelSpec, cost: Cost | None) -> Trial:
        cv = cross_validate(spec, seed, selection, period, schema, progress, folds=folds)
        sizes = np.cumsum([len(f.validation) for f in folds])[:-1]
        return Trial(
            name,
            role,
            spec,
            np.split(cv.scores, sizes),
            cv.fold_pr_auc,
            plan.cv(spec, cost),
            plan.refit(spec, cost),
            measured_seconds=cv.seconds,
        )

    progress(f"budget {budget:g} s: cross-validating {model.name} (model.name) first")
    anchor = run(model.name, "anchor", model, None)
    trials, skipped, best = [anchor], [], anchor
    spent = anchor.cv_seconds
    seen = {_identity(model): model.name}
    for entry in _entries(model, selection, plan.period):
        reason = _why_not(entry, seen, plan, spent, best, budget)
        if reason:
            skipped.append(Skipped(entry.name, reason))
            continue
        seen[_identity(entry.model)] = entry.name
        predicted = plan.cv(entry.model, entry.cost)
        progress(
            f"budget: cross-validating {entry.name} (~{predicted:.0f} s of "
            f"{budget - spent:.0f} s left)"
        )
        try:
            trial = run(entry.name, "candidate", entry.model, entry.cost)
        except ConfigError as exc:
            if not entry.explicit:
                raise
            raise ConfigError(
                f"selection.candidates: {entry.name}: {exc}; or remove {entry.name} from "
                "selection.candidates"
            ) from None
        spent += trial.cv_seconds
        trials.append(trial)
        for found in [trial, *_blends(model, trials, trial, validated)]:
            if found is not trial:
                trials.append(found)
            affordable = spent + found.refit_seconds <= budget
            if affordable and found.mean_pr_auc > best.mean_pr_auc:
                best = found
    scores = ", ".join(f"{t.name} {t.mean_pr_auc:.3f}" for t in trials)
    progress(f"out-of-fold PR-AUC: {scores}; training {best.name}")
    return Search(budget, folds, trials, skipped, best, spent, np.concatenate(validated))


def _why_not(
    entry: _Entry, seen: dict[str, str], plan: _Plan, spent: float, best: Trial, budget: float
) -> str | None:
    if entry.unsuited:
        return entry.unsuited
    missing = [m for m in entry.needs if importlib.util.find_spec(m) is None]
    if missing:
        return f"{', '.join(missing)} not installed"
    same = seen.get(_identity(entry.model))
    if same is not None:
        return f"the same model as {same}"
    cv, refit = plan.cv(entry.model, entry.cost), plan.refit(entry.model, entry.cost)
    if math.isinf(cv):
        return "its family states no cost model"
    if math.isinf(spent + best.refit_seconds):
        return f"{best.name}'s family states no cost model, so nothing can be planned beside it"
    needed = cv + max(refit, best.refit_seconds)
    if spent + needed > budget:
        return (
            f"needs ~{cv:.1f} s of folds and ~{max(refit, best.refit_seconds):.1f} s of "
            f"refit; {max(budget - spent, 0.0):.1f} s left"
        )
    return None


def _blends(
    model: ModelSpec, trials: list[Trial], newest: Trial, validated: list[np.ndarray]
) -> list[Trial]:
    """Every blend of 2-3 single models that includes ``newest``: distinct families, none
    a blend itself (a blend's block names one model per family)."""
    singles = [t for t in trials if t.role != "blend" and not t.model.members()]
    if newest not in singles:
        return []
    others = [t for t in singles if t is not newest]
    found = []
    for size in BLEND_SIZES:
        for combination in itertools.combinations(others, size - 1):
            members = (*combination, newest)
            if len({m.model.name for m in members}) < size:
                continue
            found.append(_blend(model, members, validated))
    return found


def _blend(model: ModelSpec, members: tuple[Trial, ...], validated: list[np.ndarray]) -> Trial:
    pooled = np.column_stack([m.pooled for m in members])
    blended = rank_average(pooled, rank_reference(pooled))
    sizes = np.cumsum([len(v) for v in validated])[:-1]
    fold_scores = np.split(blended, sizes)
    spec = model
    for member in members:
        spec = spec.with_section(member.model.name, member.model.section().model_dump(), WHERE)
    spec = spec.with_section(
        ENSEMBLE_FAMILY,
        {"members": [m.model.name for m in members], "method": "rank_average"},
        WHERE,
    )
    return Trial(
        "+".join(m.name for m in members),
        "blend",
        spec,
        fold_scores,
        [pr_auc(y, s) for y, s in zip(validated, fold_scores, strict=True)],
        0.0,
        sum(m.refit_seconds for m in members),
        members=members,
    )


def fit_chosen(chosen: Trial, seed: int, period: pd.DataFrame, schema: Schema) -> Any:
    """The chosen model fitted on the whole period; a blend's members once each."""
    from fraudctl.model.ensemble import BlendClassifier
    from fraudctl.model.fitting import fit

    if not chosen.members:
        return fit(chosen.model, seed, period, schema)
    fitted = [(m.model.name, fit(m.model, seed, period, schema)) for m in chosen.members]
    out_of_fold = np.column_stack([m.pooled for m in chosen.members])
    return BlendClassifier.from_out_of_fold(fitted, out_of_fold)
