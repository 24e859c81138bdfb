"""``fraudctl shadow-report``: how the challenger would have scored live traffic.

It reads a running service's ``/metrics`` (summed over whatever the scrape returns) and
prints the comparison the shadow thread recorded. Point it at each pod, or at a
Prometheus federation endpoint, to see the fleet.
"""

from __future__ import annotations

import urllib.error
from dataclasses import dataclass

from fraudctl.errors import FraudctlError
from fraudctl.webclient import NotHttpUrl, http_get


class ShadowReportError(FraudctlError):
    """The service could not be read, or it has no shadow metrics."""


@dataclass
class ShadowSummary:
    compared: int
    agreed: int
    champion_alerts: int
    challenger_alerts: int
    mean_abs_difference: float
    large_differences: int
    dropped: int
    challenger_version: str | None

    @property
    def agreement(self) -> float:
        return self.agreed / self.compared if self.compared else float("nan")


def summarise(metrics_text: str) -> ShadowSummary:
    from prometheus_client.parser import text_string_to_metric_families

    values: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    version = None
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            values[key] = values.get(key, 0.0) + sample.value
            if sample.name == "fraudctl_shadow_model_info" and sample.value == 1:
                version = sample.labels.get("version")

    def get(name: str, **labels: str) -> float:
        return values.get((name, tuple(sorted(labels.items()))), 0.0)

    agreed = int(get("fraudctl_shadow_decisions_total", agreement="agree"))
    compared = agreed + int(get("fraudctl_shadow_decisions_total", agreement="disagree"))
    return ShadowSummary(
        compared=compared,
        agreed=agreed,
        champion_alerts=int(get("fraudctl_shadow_alerts_total", model="champion")),
        challenger_alerts=int(get("fraudctl_shadow_alerts_total", model="challenger")),
        mean_abs_difference=(
            get("fraudctl_shadow_score_difference_total") / compared if compared else 0.0
        ),
        large_differences=int(get("fraudctl_shadow_large_differences_total")),
        dropped=int(get("fraudctl_shadow_dropped_total")),
        challenger_version=version,
    )


def fetch(url: str) -> str:
    target = url.rstrip("/") + ("" if url.rstrip("/").endswith("/metrics") else "/metrics")
    try:
        return http_get(target, timeout=10).decode()
    except NotHttpUrl as exc:
        raise ShadowReportError(str(exc)) from None
    except (urllib.error.URLError, OSError) as exc:
        raise ShadowReportError(f"{target}: cannot read the service's metrics ({exc})") from None
