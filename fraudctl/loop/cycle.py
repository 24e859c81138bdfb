"""One day of continuous training, as steps: each is a ``fraudctl cycle`` command and an
Airflow task (dags/fraudctl_continuous.py), and each can be run by hand.

``score`` the day with the champion (its rules, then its threshold; alerts to the alert
store analysts work) → ``monitor`` every labelled day → ``drift`` gate → ``decide`` (the
policy in ``continuous``; a change of params' rules is released at once) → ``retrain`` on
the rolling window of labelled days (the same prepare, features and train stages DVC
runs) → ``compare`` challenger and champion on the same most recent labelled days and move
the ``champion`` alias only when the challenger wins by ``promote_margin`` (or differs by
its rules alone). Labels come from chargebacks and analysts, each with its delay
(:mod:`fraudctl.loop.labels`). Every decision, with its reason, goes to an append-only
``decisions.jsonl`` and to MLflow; a step that fails leaves the champion serving and is
recorded with why.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from fraudctl.io import write_with
from fraudctl.loop.monitoring import day_metrics, monitor, recent_card_precision
from fraudctl.loop.state import Loop, history_before, score_rows
from fraudctl.loop.steps import NAMES
from fraudctl.loop.world import LoopError
from fraudctl.stages.promotion import Evidence, promote

__all__ = ["ACTIONS", "Loop", "run_step"]


def score(loop: Loop, day: int) -> dict:
    """Score the day's transactions with the champion, as `fraudctl score` would."""
    if not loop.world.log_file(day).exists():
        raise LoopError(f"day {day}: no transactions yet; run `fraudctl simulate --day {day}`")
    version = loop.version("champion")
    if version is None:
        return loop.record(day, "score", "skipped", "no champion yet: the first retrain makes one")
    model = loop.model(version)
    raw = loop.world.read_log([day])
    decided = model.decide(raw, history_before(loop, day))
    frame = raw[["transaction_id", "customer_id", "amount"]].assign(
        score=decided.probability,
        threshold=model.threshold,
        decision=pd.array(decided.decision, dtype="string"),
        rule=pd.array(decided.rule, dtype="string"),
        model_version=version,
    )
    path = loop.scores_file(day)
    path.parent.mkdir(parents=True, exist_ok=True)
    queued = queue_alerts(loop, model, raw, decided, day)
    write_with(path, lambda tmp: frame.to_parquet(tmp, index=False))
    return loop.record(
        day,
        "score",
        "ok",
        f"champion v{version} scored {len(frame):,} transactions",
        champion=version,
        rows=len(frame),
        alerts=int(decided.alert.sum()),
        by_rule=int(frame["rule"].notna().sum()),
        queued=queued,
    )


def queue_alerts(loop: Loop, model: Any, raw: pd.DataFrame, decided: Any, day: int) -> int:
    """The day's alerts (a rule's block or review, or the model's threshold) into the
    workspace's alert store, as a stream consumer queues them; analysts work them there."""
    from fraudctl.alerts.reasons import RawColumns, alerts_from_decisions
    from fraudctl.alerts.store import open_alerts

    alerts = alerts_from_decisions(
        raw,
        decided,
        RawColumns.of(model.transform),
        model.rules,
        now_ms=loop.world.start_ms(day + 1),
    )
    return open_alerts(loop.world.alerts_uri).add(alerts) if alerts else 0


def drift(loop: Loop, day: int) -> dict:
    """The loop's drift gate: the day's model inputs (computed with their history, as
    scoring does) against the last training window's test split. It measures what the
    drift library's :func:`~fraudctl.experiments.drift.psi_gate` measures: the share of
    inputs whose PSI shows a significant shift (its own knob,
    ``continuous.max_psi_shifted_share``) and the scores' PSI (the drift stage's
    ``experiments.drift.max_prediction_psi``). Evidently's per-feature tests, which the
    drift stage gates on, take seconds a day and stay with that stage."""
    from fraudctl.experiments.drift import psi_gate
    from fraudctl.model.bundle import load_model

    if not (loop.project.model_dir / "MLmodel").exists():
        return loop.record(day, "drift", "skipped", "nothing trained yet")
    model = load_model(loop.project.model_dir)
    reference = pd.read_parquet(loop.project.features_file("test"))
    current = model.feature_frame(loop.world.read_log([day]), history_before(loop, day))
    gate = psi_gate(
        reference[model.features],
        current[model.features],
        model.score_features(reference),
        model.probabilities(current.to_numpy(dtype=float)),
        bins=loop.params.experiments.drift.psi_bins,
        max_shifted_share=loop.settings.max_psi_shifted_share,
        max_prediction_psi=loop.params.experiments.drift.max_prediction_psi,
    )
    return loop.record(
        day,
        "drift",
        "failed" if gate.failed else "passed",
        gate.reason,
        psi_shifted_share=gate.shifted_share,
        score_psi=gate.prediction_psi,
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
    """Whether to retrain today, and why (the policy in ``continuous``). Rules in params
    that are not the champion's are released first, whatever the policy: a rule is how a
    team answers a new pattern while the model catches up."""
    from fraudctl.loop.releases import missed_by_the_model, rules_change

    s = loop.settings
    champion = loop.version("champion")
    if champion is None:
        return loop.record(day, "decide", "retrain", "no champion yet")
    changed = rules_change(loop, loop.model(champion))
    if changed:
        return loop.record(day, "decide", "rules", changed)
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
    missed = missed_by_the_model(loop, day)
    if missed:
        reasons.append(missed)
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
    """The most recent ``window_days`` days with labels: chargebacks, then analysts'."""
    from fraudctl.loop.labels import labelled_days

    return labelled_days(loop.world, day)[-loop.settings.window_days :]


def retrain(loop: Loop, day: int) -> dict:
    """Train a challenger on the rolling window of labelled days, through the stages; the
    challenger is registered, and only ``compare`` decides whether it is promoted."""
    from fraudctl.loop.labels import ANALYST_LABEL, SOURCE, labelled_log
    from fraudctl.stages import features, prepare, train

    decision = _last(loop, "decide", day=day)
    if decision is not None and decision["outcome"] == "rules":
        from fraudctl.loop.releases import release

        return release(loop, day)
    if decision is None or decision["outcome"] != "retrain":
        return loop.record(day, "retrain", "skipped", "today's decision is not to retrain")
    days = window_days(loop, day)
    needed = loop.settings.window_days // 2
    if len(days) < needed:
        return loop.record(
            day, "retrain", "skipped", f"only {len(days)} labelled days; a window needs {needed}"
        )
    labelled = labelled_log(loop.world, days, day)
    sources = labelled[SOURCE].value_counts().to_dict()
    window = labelled.drop(columns=[SOURCE])
    analysts = loop.params.data.schema_.analyst_label  # read by risk features, if declared
    if analysts:
        window = window.rename(columns={ANALYST_LABEL: analysts})
    else:
        window = window.drop(columns=[ANALYST_LABEL])
    source = loop.project.raw_dir / "window.parquet"
    source.parent.mkdir(parents=True, exist_ok=True)
    write_with(source, lambda tmp: window.to_parquet(tmp, index=False))
    started = time.perf_counter()
    prepare.run(loop.params, loop.project, str(source))
    features.run(loop.params, loop.project)
    result = train.run(loop.params, loop.project, promote=False)
    seconds = time.perf_counter() - started
    return loop.record(
        day,
        "retrain",
        "trained",
        f"v{result.version} on days {days[0]}-{days[-1]} ({len(window):,} rows), registered "
        "as challenger; compare decides its promotion",
        version=str(result.version),
        train_seconds=seconds,
        first_day=days[0],
        last_day=days[-1],
        **{f"labels_{name}": int(count) for name, count in sources.items()},
    )


def compare(loop: Loop, day: int) -> dict:
    """Challenger against champion on the same most recent labelled days, then promote or
    keep. The days must be outside the challenger's training rows (its test split)."""
    champion, challenger = loop.version("champion"), loop.version("challenger")
    if challenger is None or challenger == champion:
        return loop.record(day, "compare", "skipped", "no challenger beside the champion")
    if _compared(loop, challenger):
        return loop.record(day, "compare", "skipped", f"v{challenger} was compared already")
    if champion is None:  # the first model: nothing to compare it with
        first = promote(
            loop.params.tracking, Evidence(challenger, "", None, None), None, context="continuous"
        )
        return loop.record(
            day, "compare", "promoted", f"v{challenger}: {first.reason}", challenger=challenger
        )
    from fraudctl.loop.releases import evidence

    new, old = evidence(loop, challenger), evidence(loop, champion)
    if new.scorer == old.scorer:  # a rule change: no metric of the model can differ
        outcome = promote(loop.params.tracking, new, old, context="continuous")
        verdict = "promoted" if outcome.promoted else "kept"
        return loop.record(
            day,
            "compare",
            verdict,
            f"v{challenger}: {outcome.reason}",
            champion=champion,
            challenger=challenger,
        )
    trained = next(
        (
            e
            for e in reversed(loop.decisions())
            if e["step"] == "retrain" and e.get("version") == challenger
        ),
        None,
    )
    from fraudctl.loop.labels import labelled_days, labelled_log

    days = labelled_days(loop.world, day)[-loop.settings.compare_days :]
    if trained is None or not days:
        return loop.record(day, "compare", "skipped", f"v{challenger} has no window on record")
    test_start = _test_start(loop)
    if test_start is not None:
        days = [d for d in days if pd.Timestamp(loop.world.date(d)) >= test_start]
    if not days:
        return loop.record(
            day, "compare", "skipped", "no labelled day outside the challenger's training rows"
        )
    truth = labelled_log(loop.world, days, day)
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
    metric = f"card_precision@{k}"
    outcome = promote(
        loop.params.tracking,
        replace(new, metric=metric, value=results["challenger"]["card_precision"], data=ids),
        replace(old, metric=metric, value=results["champion"]["card_precision"], data=ids),
        margin=loop.settings.promote_margin,
        context=f"continuous, days {days[0]}-{days[-1]}",
    )
    verdict = "promoted" if outcome.promoted else "kept"
    return loop.record(day, "compare", verdict, f"{summary}: {outcome.reason}", **facts)


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
        return ACTIONS[step](loop, day)
    except Exception as exc:
        loop.record(day, step, "failed", f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
        raise


# The code of each step of fraudctl.loop.steps.STEPS (the order and help live there).
ACTIONS = {
    "score": score,
    "monitor": monitor,
    "drift": drift,
    "decide": decide,
    "retrain": retrain,
    "compare": compare,
}
assert tuple(ACTIONS) == NAMES, "fraudctl.loop.steps and the step functions disagree"
