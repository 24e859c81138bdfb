"""Stage ``train`` on Dask: a family's own distributed training, then the usual recording.

A family with a Dask factory (:data:`fraudctl.distributed.families.DASK_FAMILIES`; LightGBM:
``lightgbm.dask.DaskLGBMClassifier``)
trains on the workers' partitions of the train split; ``to_local()`` turns it into the
ordinary model that is saved, registered and served like any other. The validation split
is scored partition by partition on the workers, and only what the metrics need (label,
score, amount, time, the card id) comes back to the client: about 40 bytes per row.

Selection is the hold-out validation split: prequential folds refit the model several
times over the whole period and stay with ``engine: local`` (docs/dask.md). LightGBM's
distributed training is not bit-identical to the local one (each worker bins its own
rows); the difference is measured in benchmarks/dask.py and shown in docs/dask.md.
"""

from __future__ import annotations

import hashlib
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd

from fraudctl.data.schema import Schema
from fraudctl.distributed.cluster import connect
from fraudctl.distributed.families import DASK_FAMILIES
from fraudctl.distributed.history import partitions_of
from fraudctl.distributed.settings import DaskParams
from fraudctl.errors import ArtifactError, ConfigError
from fraudctl.io import read_json
from fraudctl.model.families import BuildContext, ModelSpec, family
from fraudctl.model.fitting import amounts, split_metrics
from fraudctl.model.leakage import SAMPLE_ROWS, check_for_leaks
from fraudctl.model.threshold import choose_threshold
from fraudctl.model.training import Selected, TrainingSettings
from fraudctl.paths import ProjectPaths
from fraudctl.progress import Progress, quiet


def check_supported(model: ModelSpec) -> None:
    if model.name not in DASK_FAMILIES:
        raise ConfigError(
            f"model.name: {model.name!r} does not train on compute.engine: dask; "
            f"use {' or '.join(DASK_FAMILIES)}, or engine: local"
        )
    if model.imbalance.resample != "none":
        raise ConfigError(
            "model.imbalance.resample needs every training row in one process; "
            "set it to none with compute.engine: dask (scale_pos_weight weighs the frauds)"
        )


def feature_files(paths: ProjectPaths, split: str) -> list[str]:
    directory = paths.features_file(split)
    if not directory.is_dir():
        raise ArtifactError(
            f"{directory}: not a partitioned output; run `fraudctl features build` with "
            "compute.engine: dask first"
        )
    return list(partitions_of(directory).values())


def select_partitioned(
    dask: DaskParams,
    settings: TrainingSettings,
    paths: ProjectPaths,
    schema: Schema,
    progress: Progress = quiet,
) -> Selected:
    """The same selection as :func:`fraudctl.model.training.select`, on the workers."""
    import dask.dataframe as dd

    check_supported(settings.model)
    if settings.selection.folds:
        budget = " (and selection.budget's portfolio)" if settings.selection.budget else ""
        progress(
            f"selection.folds: {settings.selection.folds} prequential folds{budget} run on "
            "engine: local; on dask model.name is trained and the threshold is chosen on the "
            "validation split"
        )
    features = list(schema.features)
    train_files = feature_files(paths, "train")
    validation_files = feature_files(paths, "validation")
    with connect(dask) as client:
        from distributed import wait

        # Persisted before X and y are taken apart: LightGBM pairs their partitions by
        # position, and a lazily re-planned frame can split them differently
        # (lightgbm-org/LightGBM#6920). LightGBM holds its rows in memory anyway. Read
        # through from_map: dask's parquet reader with `columns` loses persisted pieces.
        split = read_json(paths.data_report)["splits"]["train"]
        keep_legit = legit_fraction(split["rows"], split["frauds"], dask.max_train_rows)
        if keep_legit < 1:
            progress(
                f"training on every fraud and {keep_legit:.1%} of the legitimate rows "
                f"(compute.max_train_rows: {dask.max_train_rows:,})"
            )
        train = dd.from_map(
            read_training_rows,
            train_files,
            list(range(len(train_files))),
            columns=[*features, schema.target],
            target=schema.target,
            keep_legit=keep_legit,
            seed=settings.seed,
        ).persist()
        wait(train)
        rows = len(train)

        progress("checking single features for label leaks (on a sample)")
        fraction = min(1.0, 2 * SAMPLE_ROWS / max(rows, 1))
        sample = train.sample(frac=fraction, random_state=settings.seed).compute()
        check_for_leaks(
            sample,
            features,
            schema.target,
            settings.leak_guard_auc,
            list(settings.leak_guard_allow),
            settings.seed,
        )
        del sample

        progress(f"fitting {settings.model.name} on {rows:,} rows across the workers")
        context = BuildContext(
            settings.model, settings.seed, tuple(features), tuple(schema.categorical)
        )
        chosen = family(settings.model.name)
        distributed = DASK_FAMILIES[settings.model.name](context, client)
        options = chosen.fit_options(context)
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored")
            distributed.fit(train[features], train[schema.target], **options)
        fit_seconds = time.perf_counter() - started
        estimator = distributed.to_local()

        progress("scoring the validation split on the workers")
        model = client.scatter(estimator, broadcast=True)
        pieces = client.gather(
            client.map(validation_scores, validation_files, model=model, schema=schema)
        )
    scored = pd.concat([frame for frame, _ in pieces], ignore_index=True)
    digest = hashlib.sha256(np.concatenate([h for _, h in pieces]).tobytes()).hexdigest()[:16]
    scores = scored.pop("__score").to_numpy()
    progress("choosing the decision threshold on validation")
    choice = choose_threshold(
        scored[schema.target].to_numpy(), scores, amounts(scored, schema), settings.threshold
    )
    validation = split_metrics(
        settings.evaluate, settings.threshold.review_cost, scored, schema, scores, choice.value
    )
    return Selected(
        model=settings.model,  # selection.candidates are compared by engine: local only
        estimator=estimator,
        fit_seconds=fit_seconds,
        threshold=choice,
        validation=validation,
        selection={
            "method": "holdout",
            "engine": "dask",
            "workers": dask.workers,
            "validated_rows": len(scored),
            "trained_rows": rows,
            "legit_rows_kept": keep_legit,
        },
        fingerprint=digest,
        train_rows=rows,
    )


def legit_fraction(rows: int, frauds: int, cap: int) -> float:
    """The share of legitimate rows to train on so the total stays under ``cap`` (every
    fraud is kept): LightGBM holds its training rows in memory, so this bounds a worker's
    memory whatever the log's length (docs/dask.md)."""
    legit = rows - frauds
    if rows <= cap or legit <= 0:
        return 1.0
    return max(0.0, (cap - frauds) / legit)


def read_training_rows(
    file: str,
    number: int,
    columns: list[str] | None = None,
    target: str = "",
    keep_legit: float = 1.0,
    seed: int = 0,
) -> pd.DataFrame:
    """One partition of the train split as float32 (half the memory; LightGBM bins the
    values anyway), every fraud and a seeded sample of the legitimate rows."""
    frame = pd.read_parquet(file, columns=columns)
    if keep_legit < 1:
        draw = np.random.default_rng([seed, number]).random(len(frame))
        frame = frame[(frame[target].to_numpy() == 1) | (draw < keep_legit)]
    return frame.astype(np.float32)


def validation_scores(file: str, model: Any, schema: Schema) -> tuple[pd.DataFrame, np.ndarray]:
    """One partition's scores and the columns metrics read, plus the row hashes that make
    the data fingerprint (equal to the local engine's on the same rows): a task."""
    frame = pd.read_parquet(file)
    features = list(schema.features)
    hashes = pd.util.hash_pandas_object(frame[[*features, schema.target]], index=False)
    keep = [schema.target, schema.time, *schema.entities.values()]
    keep += [c for c in (schema.amount,) if c]
    out = frame[list(dict.fromkeys(keep))].copy()
    out["__score"] = model.predict_proba(frame[features])[:, 1] if len(frame) else []
    return out, hashes.to_numpy()
