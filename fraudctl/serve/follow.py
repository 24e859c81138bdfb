"""Following the registry: hot reload when an alias moves, one threshold for every pod.

With ``--model models:/fraud-detector@champion`` each replica asks the registry every
``poll_seconds`` where the alias points. When it moves, the new version is downloaded,
loaded and warmed in a thread while the old one keeps answering, then swapped in with one
assignment: a request in flight finishes on the model it started with, none fails. A version
that fails to load, or that expects a different request schema, is refused: the old model
serves on and ``fraudctl_model_reloads_total{result="failed"}`` counts it (an alert fires).

The decision threshold lives in the registry too, as the tag ``fraudctl.threshold`` on the
model version. ``PUT /model/threshold`` writes it there, and every replica picks it up on
its next poll, so HPA replicas agree and a restart keeps the change.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from fraudctl.serve.registry import (
    CHALLENGER,
    THRESHOLD_TAG,
    RegistryAlias,
    registry_client,
    registry_threshold,
)

if TYPE_CHECKING:
    from fraudctl.serve.state import ServiceState

__all__ = ["THRESHOLD_TAG", "RegistryFollower"]


class RegistryFollower:
    """Polls the registry for one alias on behalf of a running service."""

    def __init__(self, service: ServiceState, target: RegistryAlias):
        self.service = service
        self.target = target
        self.refused: str | None = None  # not retried until the alias points elsewhere
        self.shadow_refused: str | None = None

    async def run(self) -> None:
        interval = self.service.settings.poll_seconds
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(self.check)
            except Exception as exc:  # the registry is down: keep serving, say so
                self.service.metrics.registry_polls_failed.inc()
                self.service.logger.warning(f"registry poll failed: {exc}")

    def check(self) -> None:
        """One poll: follow an alias move, then apply a changed shared threshold."""
        settings = self.service.settings
        version = registry_client(settings.tracking_uri).get_model_version_by_alias(
            self.target.name, self.target.alias
        )
        current = self.service.predictor
        if current is None and self.service.load_error is None:
            return  # the first load is still under way
        wanted = str(version.version)
        if (current is None or wanted != current.version) and wanted != self.refused:
            self.reload(wanted)
            current = self.service.predictor
        if current is None:
            return
        # a threshold changed on the served version since it was loaded (another replica's PUT)
        same = current.version == wanted
        shared = (version.tags or {}).get(THRESHOLD_TAG) if same else None
        if shared is not None:
            with contextlib.suppress(ValueError):
                self.service.apply_threshold(float(shared), source="registry")
        if self.service.shadow is not None:
            self.follow_challenger()

    def follow_challenger(self) -> None:
        """Keep the shadow model on the version the ``challenger`` alias points at."""
        from fraudctl.serve.predictor import load_predictor

        service, settings = self.service, self.service.settings
        shadow = service.shadow
        assert shadow is not None
        try:
            found = registry_client(settings.tracking_uri).get_model_version_by_alias(
                self.target.name, CHALLENGER
            )
        except Exception:  # no challenger alias (yet): nothing to shadow
            found = None
        wanted = None if found is None else str(found.version)
        current = shadow.challenger
        if wanted == (current.version if current else None) or wanted == self.shadow_refused:
            return
        if wanted is None:
            shadow.install(None, service.predictor)
            return
        try:
            challenger = load_predictor(
                self.target.version_uri(wanted),
                settings.tracking_uri,
                settings.online_store,
                settings.scoring_threads,
            )
            challenger.alias = CHALLENGER
            shared = registry_threshold(settings.tracking_uri, challenger.name, wanted)
            if shared is not None:
                challenger.threshold = shared
        except Exception as exc:
            self.shadow_refused = wanted
            service.logger.error(f"shadow off: challenger v{wanted} failed to load: {exc}")
            return
        if shadow.install(challenger, service.predictor):
            self.shadow_refused = None
            service.metrics.shadow_version.clear()
            service.metrics.shadow_version.labels(wanted).set(1)
            service.logger.warning(
                f"shadow scoring with challenger v{wanted}",
                extra={"fields": {"event": "shadow_changed", "shadow_version": wanted}},
            )
        else:
            self.shadow_refused = wanted

    def reload(self, version: str) -> None:
        from fraudctl.serve.predictor import load_predictor
        from fraudctl.serve.schemas import request_fields

        service, settings = self.service, self.service.settings
        old = service.predictor
        try:
            new = load_predictor(
                self.target.version_uri(version),
                settings.tracking_uri,
                settings.online_store,
                settings.scoring_threads,
            )
            new.alias = self.target.alias
            shared = registry_threshold(settings.tracking_uri, new.name, new.version)
            if shared is not None:
                new.threshold = shared  # set before the swap: no request sees the old one
            if old is not None and request_fields(new.model.transform) != request_fields(
                old.model.transform
            ):
                raise ValueError(
                    "its request schema differs from the served model's; clients would break "
                    "(deploy it as a new service instead)"
                )
        except Exception as exc:
            self.refused = version
            service.metrics.model_reloads.labels("failed").inc()
            service.logger.error(
                f"refused {self.target.name} v{version} (alias {self.target.alias}): {exc}; "
                f"v{old.version if old else '-'} keeps serving",
                extra={"fields": {"event": "model_reload_failed", "model_version": version}},
            )
            return
        self.refused = None
        service.install(new)
        if service.shadow is not None and service.shadow.challenger is not None:
            service.shadow.install(service.shadow.challenger, new)  # still the same inputs?
        service.metrics.model_reloads.labels("ok").inc()
        service.logger.warning(
            f"model {new.name} changed from v{old.version if old else '-'} to v{new.version} "
            f"(alias {self.target.alias} moved)",
            extra={
                "fields": {
                    "event": "model_reloaded",
                    "previous_version": old.version if old else None,
                    "model_version": new.version,
                }
            },
        )
