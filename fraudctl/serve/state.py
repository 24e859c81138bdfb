"""What the running service holds: the loaded model and its schemas, the registry alias it
follows, the shadow; and how a model gets loaded into it."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import numpy as np

from fraudctl.alerts.store import alert_store_uri
from fraudctl.serve.alerts import AlertWriter, Pending
from fraudctl.serve.errors import ApiError
from fraudctl.serve.predictor import Predictor, load_predictor
from fraudctl.serve.registry import RegistryAlias, registry_threshold
from fraudctl.serve.schemas import (
    ApiSchemas,
    build_schemas,
    request_fields,
)
from fraudctl.serve.settings import ServeSettings
from fraudctl.serve.shadow import Shadow
from fraudctl.serve.telemetry import Metrics


class ServiceState:
    """What the routes share: the predictor once loaded, and its request validators.

    The two live in one tuple that a reload replaces with one assignment, so a request
    never sees a new model with the old schemas or the reverse.
    """

    def __init__(self, settings: ServeSettings, metrics: Metrics, logger: logging.Logger):
        self.settings = settings
        self.metrics = metrics
        self.logger = logger
        self._active: tuple[Predictor, ApiSchemas] | None = None
        self.load_error: str | None = None
        self.following = RegistryAlias.parse(settings.model)
        uri = alert_store_uri(settings.alert_store, settings.online_store)
        self.alerts = None if uri is None else AlertWriter(uri, metrics, logger)
        # The challenger is loaded for shadow scoring, for a canary, or for both.
        self.shadow = (
            Shadow(metrics, logger)
            if (settings.shadow or settings.canary > 0)
            and self.following is not None
            and settings.poll_seconds > 0
            else None
        )

    @property
    def canary(self) -> Predictor | None:
        """The challenger, when a canary share is set and it is loaded."""
        if self.shadow is None or self.settings.canary <= 0:
            return None
        return self.shadow.challenger

    def alert_one(self, model: Predictor, row: dict[str, Any], inputs: Any, decided: Any) -> None:
        """Queue one decided transaction for the analysts when it is an alert (a
        :class:`~fraudctl.rules.decide.Decision`), off the request path."""
        if self.alerts is not None and decided.alert:
            self.alerts.submit(
                Pending(
                    model,
                    [row],
                    inputs.reshape(1, -1),
                    [decided.decision],
                    [decided.rule],
                    [decided.probability],
                )
            )

    def alert_batch(self, model: Predictor, raw: Any, inputs: Any, decided: Any) -> None:
        """Queue a batch's alerts: ``raw`` its fields (``.row(k)``), ``decided`` its
        :class:`~fraudctl.rules.decide.Decisions`."""
        if self.alerts is None:
            return
        flagged = np.flatnonzero(decided.alert)
        if flagged.size:
            self.alerts.submit(
                Pending(
                    model,
                    [raw.row(int(k)) for k in flagged],
                    inputs[flagged],
                    decided.decision[flagged].tolist(),
                    decided.rule[flagged].tolist(),
                    decided.probability[flagged].tolist(),
                )
            )

    def shadow_submit(self, matrix: Any, scores: Any, threshold: float) -> None:
        if self.shadow is not None and self.settings.shadow:
            self.shadow.submit(matrix, scores, threshold)

    @property
    def predictor(self) -> Predictor | None:
        active = self._active
        return None if active is None else active[0]

    @property
    def schemas(self) -> ApiSchemas | None:
        active = self._active
        return None if active is None else active[1]

    def install(self, predictor: Predictor) -> None:
        import gc

        # The model, numba and pandas leave a large heap that never dies: keep the cyclic
        # collector from walking it again and again (pauses in the slowest requests).
        gc.collect()
        gc.freeze()
        schemas = build_schemas(
            request_fields(predictor.model.transform, predictor.model.input_limits),
            self.settings.max_batch_size,
        )
        previous = self.predictor
        self._active = (predictor, schemas)
        if previous is not None:
            self.metrics.model_info.labels(
                previous.name, previous.version, previous.alias or "", previous.kind
            ).set(0)
        self.metrics.model_info.labels(
            predictor.name, predictor.version, predictor.alias or "", predictor.kind
        ).set(1)
        self.metrics.threshold.set(predictor.threshold)
        self.metrics.ready.set(1)
        self.load_error = None

    def apply_threshold(self, threshold: float, source: str) -> float | None:
        """Set the served model's threshold; returns the previous one if it changed."""
        model = self.predictor
        if model is None or model.threshold == threshold:
            return None
        previous, model.threshold = model.threshold, threshold
        self.metrics.threshold.set(threshold)
        self.logger.warning(
            f"threshold changed from {previous:.6f} to {threshold:.6f} ({source})",
            extra={
                "fields": {
                    "event": "threshold_changed",
                    "previous": previous,
                    "threshold": threshold,
                    "source": source,
                }
            },
        )
        return previous

    def ready(self) -> tuple[Predictor, ApiSchemas]:
        active = self._active
        if active is None:
            raise ApiError(
                503,
                "model not loaded yet"
                if self.load_error is None
                else f"model failed to load: {self.load_error}",
            )
        return active


async def load_model_into(service: ServiceState) -> None:
    settings = service.settings
    try:
        loaded = await asyncio.to_thread(
            load_predictor,
            settings.model,
            settings.tracking_uri,
            settings.online_store,
            settings.scoring_threads,
        )
    except Exception as exc:  # a worker keeps answering probes and says why it is not ready
        service.load_error = str(exc)
        service.logger.error(f"model failed to load: {exc}")
        return
    if service.following is not None:  # a threshold shared through the registry wins
        try:
            shared = await asyncio.to_thread(
                registry_threshold, settings.tracking_uri, loaded.name, loaded.version
            )
        except Exception as exc:
            service.logger.warning(f"could not read the shared threshold: {exc}")
            shared = None
        if shared is not None:
            loaded.threshold = shared  # before the first request can see the model
    service.install(loaded)
    service.logger.info(
        f"model {loaded.name} v{loaded.version} loaded from {loaded.source} "
        f"(threshold {loaded.threshold:.6f})",
        extra={"fields": {"model_version": loaded.version}},
    )
