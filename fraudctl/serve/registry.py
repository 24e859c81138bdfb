"""The model registry as the service sees it: which alias it follows, and the decision
threshold every replica shares, stored as the tag ``fraudctl.threshold`` on the served
model version (``PUT /model/threshold`` writes it, each replica's next poll reads it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fraudctl.serve.predictor import Predictor

THRESHOLD_TAG = "fraudctl.threshold"
CHALLENGER = "challenger"


@dataclass(frozen=True)
class RegistryAlias:
    name: str
    alias: str

    @classmethod
    def parse(cls, uri: str) -> RegistryAlias | None:
        """``models:/name@alias`` -> (name, alias); anything else is not followed."""
        if not uri.startswith("models:/") or "@" not in uri:
            return None
        name, _, alias = uri.removeprefix("models:/").partition("@")
        return cls(name, alias) if name and alias and "/" not in name else None

    def version_uri(self, version: str) -> str:
        return f"models:/{self.name}/{version}"


def registry_client(tracking_uri: str | None) -> Any:
    """A client on the store the model was loaded from (same rule as the download)."""
    from mlflow import MlflowClient

    from fraudctl.config import TrackingParams
    from fraudctl.tracking import tracking_uri as resolve

    params = TrackingParams(uri=tracking_uri) if tracking_uri else TrackingParams()
    uri = resolve(params)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def registry_threshold(tracking_uri: str | None, name: str, version: str) -> float | None:
    """The shared threshold set on a model version, if any."""
    tags = registry_client(tracking_uri).get_model_version(name, version).tags or {}
    value = tags.get(THRESHOLD_TAG)
    try:
        return None if value is None else float(value)
    except ValueError:
        return None


def publish_threshold(tracking_uri: str | None, predictor: Predictor, threshold: float) -> None:
    """Write the threshold to the served version's tag, for every replica to pick up."""
    registry_client(tracking_uri).set_model_version_tag(
        predictor.name, predictor.version, THRESHOLD_TAG, repr(float(threshold))
    )
