"""Shadow scoring: the challenger sees live traffic, the client sees only the champion.

With ``FRAUDCTL_SHADOW=true`` and a ``models:/name@champion`` model, the service also loads
``models:/name@challenger``. Each scored batch of model inputs is handed to a background
thread (a bounded queue: when it is full the batch is dropped and counted, never waited
for), which scores it with the challenger and exports how the two compare: decisions that
agree or not, the absolute score difference, and each model's alerts. ``fraudctl
shadow-report`` reads them back from the service's ``/metrics``.

The challenger must take the champion's inputs (the same feature transform output); one
that does not is refused with a log line, and shadowing stays off until the alias moves.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from fraudctl.serve.telemetry import LARGE_DIFFERENCE

if TYPE_CHECKING:
    from fraudctl.serve.predictor import Predictor

QUEUE_BATCHES = 256


@dataclass
class ShadowJob:
    matrix: np.ndarray
    champion: np.ndarray
    champion_threshold: float


class Shadow:
    """The challenger and the thread that scores it off the request path."""

    def __init__(self, metrics: Any, logger: Any):
        self.metrics = metrics
        self.logger = logger
        self.challenger: Predictor | None = None
        self.jobs: queue.Queue[ShadowJob | None] = queue.Queue(maxsize=QUEUE_BATCHES)
        self.worker = threading.Thread(target=self._run, name="shadow", daemon=True)
        self.worker.start()

    def install(self, challenger: Predictor | None, champion: Predictor | None) -> bool:
        """Use ``challenger`` from now on if it takes the champion's inputs."""
        if (
            challenger is not None
            and champion is not None
            and list(challenger.features) != list(champion.features)
        ):
            self.logger.error(
                f"shadow off: challenger v{challenger.version} takes other inputs than "
                f"champion v{champion.version}"
            )
            self.challenger = None
            return False
        self.challenger = challenger
        return challenger is not None

    def submit(self, matrix: np.ndarray, champion: np.ndarray, threshold: float) -> None:
        """Queue a scored batch for the challenger; never blocks the request."""
        if self.challenger is None:
            return
        try:
            self.jobs.put_nowait(ShadowJob(matrix, champion, threshold))
        except queue.Full:
            self.metrics.shadow_dropped.inc(len(champion))

    def drain(self) -> None:
        """Wait until every queued batch is scored (tests, shutdown)."""
        self.jobs.join()

    def _run(self) -> None:
        while True:
            job = self.jobs.get()
            try:
                challenger = self.challenger
                if job is not None and challenger is not None:
                    self._record(job, challenger.probabilities(job.matrix), challenger.threshold)
            except Exception as exc:  # a broken challenger must not take the service down
                self.logger.error(f"shadow scoring failed: {exc}")
            finally:
                self.jobs.task_done()

    def _record(self, job: ShadowJob, scores: np.ndarray, threshold: float) -> None:
        champion_flags = job.champion >= job.champion_threshold
        challenger_flags = scores >= threshold
        agree = int(np.sum(champion_flags == challenger_flags))
        metrics = self.metrics
        metrics.shadow_decisions.labels("agree").inc(agree)
        metrics.shadow_decisions.labels("disagree").inc(len(scores) - agree)
        metrics.shadow_alerts.labels("champion").inc(int(champion_flags.sum()))
        metrics.shadow_alerts.labels("challenger").inc(int(challenger_flags.sum()))
        difference = np.abs(scores - job.champion)
        metrics.shadow_difference.inc(float(difference.sum()))
        metrics.shadow_large_differences.inc(int(np.sum(difference > LARGE_DIFFERENCE)))
