"""One day of continuous training, as steps: each is a ``fraudctl cycle`` command and an
Airflow task (dags/fraudctl_continuous.py), and each can be run by hand.

``score`` the day with the champion → ``monitor`` every labelled day → ``drift`` gate →
``decide`` (the policy in ``continuous``) → ``retrain`` on the rolling window of labelled
days (the same prepare, features and train stages DVC runs) → ``compare`` challenger and
champion on the same most recent labelled days and move the ``champion`` alias only when
the challenger wins by ``promote_margin``. Every decision, with its reason, goes to an
append-only ``decisions.jsonl`` and to MLflow; a step that fails leaves the champion
serving and is recorded with why.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import numpy as np
import pandas as pd

from fraudctl import tracking
from fraudctl.io import write_with
from fraudctl.loop.monitoring import day_metrics, monitor, recent_card_precision
from fraudctl.loop.state import Loop, history_before, score_rows
from fraudctl.loop.world import LoopError

__all__ = ["STEPS", "Loop", "run_step"]


def score(loop: Loop, day: int) -> dict:
    """Score the day's transactions with the champion, as `fraudctl score` would."""
    if not loop.world.log_file(day).exists():
        raise LoopError(f"day {day}: no transactions yet; run `fraudctl simulate --day {day}`")
    version = loop.version("champion")
    if version is None:
        return loop.record(day, "score", "skipped", "no champion yet: the first retrain makes one")
    model = loop.model(version)
    raw = loop.world.read_log([day])
    scores = model.predict_raw(raw, history_before(loop, day))
    frame = raw[["transaction_id", "customer_id", "amount"]].assign(
        score=scores, threshold=model.threshold, model_version=version
    )
    path = loop.scores_file(day)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_with(path, lambda tmp: frame.to_parquet(tmp, index=False))
    alerts = int((scores >= model.threshold).sum())
    return loop.record(
        day,
        "score",
        "ok",
        f"champion v{version} scored {len(frame):,} transactions",
        champion=version,
        rows=len(frame),
        alerts=alerts,
    )


def drift(loop: Loop, day: int) -> dict:
    """The drift gate: the day's model inputs (computed with their history, as scoring
    does) against the last training window's test split, with the drift stage's limits:
    the share of inputs whose PSI shows a significant shift, and the scores' PSI."""
    from fraudctl.experiments.drift import PSI_SHIFT, psi
    from fraudctl.model.bundle import load_model

    if not (loop.project.model_dir / "MLmodel").exists():
        return loop.record(day, "drift", "skipped", "nothing trained yet")
    limits = loop.params.experiments.drift
    model = load_model(loop.project.model_dir)
    reference = pd.read_parquet(loop.project.features_file("test"))
    current = model.feature_frame(loop.world.read_log([day]), history_before(loop, day))
    shifted = [
        name
        for name in model.features
        if psi(
            reference[name].to_numpy(dtype=float),
            current[name].to_numpy(dtype=float),
            limits.psi_bins,
        )
        > PSI_SHIFT
    ]
    scores_psi = psi(
        model.score_features(reference),
        model.probabilities(current.to_numpy(dtype=float)),
        limits.psi_bins,
    )
    share = len(shifted) / len(model.features)
    failed = share > limits.max_drifted_share or scores_psi > limits.max_prediction_psi
    reason = (
        f"{len(shifted)} of {len(model.features)} inputs shifted (PSI > {PSI_SHIFT:g}"
        f"{': ' + ', '.join(shifted[:4]) if shifted else ''}), score PSI {scores_psi:.3f}; "
        f"limits {limits.max_drifted_share:.0%} of inputs, score PSI "
        f"{limits.max_prediction_psi:g}"
    )
    return loop.record(
        day,
        "drift",
        "failed" if failed else "passed",
        reason,
        drifted_share=share,
        score_psi=scores_psi,
    )


def _last(loop: Loop, step: str, day: int | None = None, outcome: str | None = None) -> dict | None:
    for entry in reversed(loop.decisions()):
        if (
            entry["step"] == step
            and (day is None or entry["day"] == day)
            and (outcome is None or entry["outcome"] == outcome)
        ):
            return entry
    return None


def decide(loop: Loop, day: int) -> dict:
    """Whether to retrain today, and why (the policy in ``continuous``)."""
    s = loop.settings
    if loop.version("champion") is None:
        return loop.record(day, "decide", "retrain", "no champion yet")
    if s.policy == "frozen":
        return loop.record(day, "decide", "keep", "policy frozen: the champion is never retrained")
    trained = _last(loop, "retrain", outcome="trained")
    since = day - trained["day"] if trained else day
    if s.policy == "schedule":
        if since >= s.retrain_every_days:
            return loop.record(day, "decide", "retrain", f"schedule: {since} days since training")
        return loop.record(
            day, "decide", "keep", f"schedule: {since} of {s.retrain_every_days} days"
        )
    reasons = []
    gate = _last(loop, "drift", day=day)
    if gate and gate["outcome"] == "failed":
        reasons.append(f"drift gate failed ({gate['reason']})")
    precision = recent_card_precision(loop, day)
    if precision is not None and precision < s.min_card_precision:
        reasons.append(
            f"card precision@{s.card_k} {precision:.3f} over the last labelled days is below "
            f"{s.min_card_precision:g}"
        )
    if reasons and since < s.retrain_every_days // 2:
        return loop.record(
            day,
            "decide",
            "keep",
            f"{'; '.join(reasons)}; but trained {since} days ago (labels lag "
            f"{s.label_delay_days} days): waiting",
        )
    if reasons:
        return loop.record(day, "decide", "retrain", "; ".join(reasons))
    if precision is None:  # the champion's first scored days have no labels back yet
        return loop.record(
            day, "decide", "keep", "drift gate passed; no labelled days yet to judge performance"
        )
    return loop.record(day, "decide", "keep", "drift gate passed and labelled performance holds")


def window_days(loop: Loop, day: int) -> list[int]:
    labelled = loop.world.labelled_days(day)
    return labelled[-loop.settings.window_days :]


def retrain(loop: Loop, day: int) -> dict:
    """Train a challenger on the rolling window of labelled days, through the stages."""
    from fraudctl.engines import build_features, prepare, train

    decision = _last(loop, "decide", day=day)
    if decision is None or decision["outcome"] != "retrain":
        return loop.record(day, "retrain", "skipped", "today's decision is not to retrain")
    days = window_days(loop, day)
    needed = loop.settings.window_days // 2
    if len(days) < needed:
        return loop.record(
            day, "retrain", "skipped", f"only {len(days)} labelled days; a window needs {needed}"
        )
    window = loop.world.read_log(days, labelled=True)
    source = loop.project.raw_dir / "window.parquet"
    source.parent.mkdir(parents=True, exist_ok=True)
    write_with(source, lambda tmp: window.to_parquet(tmp, index=False))
    started = time.perf_counter()
    prepare(loop.params, loop.project, str(source))
    build_features(loop.params, loop.project)
    result = train(loop.params, loop.project)
    seconds = time.perf_counter() - started
    return loop.record(
        day,
        "retrain",
        "trained",
        f"v{result.version} on days {days[0]}-{days[-1]} ({len(window):,} rows); "
        f"registry: {result.promotion.reason}",
        version=str(result.version),
        train_seconds=seconds,
        first_day=days[0],
        last_day=days[-1],
    )


def compare(loop: Loop, day: int) -> dict:
    """Challenger against champion on the same most recent labelled days, then promote or
    keep. The days must be outside the challenger's training rows (its test split)."""
    champion, challenger = loop.version("champion"), loop.version("challenger")
    if challenger is None or challenger == champion:
        return loop.record(day, "compare", "skipped", "no challenger beside the champion")
    if _compared(loop, challenger):
        return loop.record(day, "compare", "skipped", f"v{challenger} was compared already")
    trained = next(
        (
            e
            for e in reversed(loop.decisions())
            if e["step"] == "retrain" and e.get("version") == challenger
        ),
        None,
    )
    labelled = loop.world.labelled_days(day)
    days = labelled[-loop.settings.compare_days :]
    if trained is None or not days:
        return loop.record(day, "compare", "skipped", f"v{challenger} has no window on record")
    test_start = _test_start(loop)
    if test_start is not None:
        days = [d for d in days if pd.Timestamp(loop.world.date(d)) >= test_start]
    if not days:
        return loop.record(
            day, "compare", "skipped", "no labelled day outside the challenger's training rows"
        )
    truth = loop.world.read_log(days, labelled=True)
    ids = hashlib.sha256(truth["transaction_id"].to_numpy().tobytes()).hexdigest()[:16]
    k = loop.settings.card_k
    results = {}
    for name, version in (("champion", champion), ("challenger", challenger)):
        model = loop.model(version)
        frame = truth.assign(score=score_rows(loop, version, days), threshold=model.threshold)
        frame["day"] = frame["timestamp"].dt.floor("D")
        per_day = [day_metrics(part, k) for _, part in frame.groupby("day")]
        results[name] = {
            "card_precision": float(np.mean([m["card_precision"] for m in per_day])),
            "money_caught": float(sum(m["money_caught"] for m in per_day)),
        }
    gain = results["challenger"]["card_precision"] - results["champion"]["card_precision"]
    facts = {
        "champion": champion,
        "challenger": challenger,
        "compared_days": f"{days[0]}-{days[-1]}",
        "rows_digest": ids,
        "gain": gain,
        **{f"{n}_{m}": v for n, r in results.items() for m, v in r.items()},
    }
    summary = (
        f"card precision@{k} over days {days[0]}-{days[-1]} (the same {len(truth):,} rows): "
        f"challenger v{challenger} {results['challenger']['card_precision']:.3f}, champion "
        f"v{champion} {results['champion']['card_precision']:.3f}"
    )
    if gain > loop.settings.promote_margin:
        tracking.set_champion(loop.params.tracking, challenger, reason=f"continuous: {summary}")
        return loop.record(day, "compare", "promoted", summary, **facts)
    return loop.record(
        day,
        "compare",
        "kept",
        f"{summary}; the margin is {loop.settings.promote_margin:g}",
        **facts,
    )


def _compared(loop: Loop, version: str) -> bool:
    return any(
        e["step"] == "compare"
        and e.get("challenger") == version
        and e["outcome"] in {"promoted", "kept"}
        for e in loop.decisions()
    )


def _test_start(loop: Loop) -> pd.Timestamp | None:
    test = loop.project.split_file("test")
    if not test.exists():
        return None
    times = pd.read_parquet(test, columns=[loop.params.data.schema_.time])
    return pd.Timestamp(times.iloc[:, 0].min()).floor("D")


def run_step(loop: Loop, step: str, day: int) -> Any:
    """One step; a failure is recorded with its reason (the champion keeps serving: no
    step moves an alias before its own work succeeded) and raised."""
    try:
        return STEPS[step](loop, day)
    except Exception as exc:
        loop.record(day, step, "failed", f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
        raise


STEPS = {
    "score": score,
    "monitor": monitor,
    "drift": drift,
    "decide": decide,
    "retrain": retrain,
    "compare": compare,
}
