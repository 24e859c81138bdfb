"""Where stages read and write, relative to a project root: a convention shared with
``dvc.yaml`` (a test holds the two together), not a setting of params.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_PARAMS_FILE = Path("params.yaml")
# The embedded online feature store (fraudctl/features/sqlite_store.py); redis://... for pods.
DEFAULT_ONLINE_STORE = "sqlite:///data/online/store.db"


@dataclass(frozen=True)
class ProjectPaths:
    """Where stages read and write, relative to the project root; mirrored by dvc.yaml."""

    root: Path = Path()

    @property
    def raw_dir(self) -> Path:
        return self.root / "data" / "raw"

    @property
    def prepared_dir(self) -> Path:
        return self.root / "data" / "prepared"

    def split_file(self, split: str) -> Path:
        return self.prepared_dir / f"{split}.parquet"

    @property
    def gap_file(self) -> Path:
        """Rows inside the split gaps: history for the features, never scored."""
        return self.prepared_dir / "gap.parquet"

    @property
    def features_dir(self) -> Path:
        return self.root / "data" / "features"

    def features_file(self, split: str) -> Path:
        return self.features_dir / f"{split}.parquet"

    @property
    def transform_file(self) -> Path:
        """The fitted feature transform; `train` saves a copy inside the model."""
        return self.features_dir / "transform.json"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def model_dir(self) -> Path:
        return self.models_dir / "model"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def data_report(self) -> Path:
        return self.reports_dir / "data.json"

    @property
    def train_report(self) -> Path:
        return self.reports_dir / "train.json"

    @property
    def metrics_file(self) -> Path:
        return self.reports_dir / "metrics.json"

    @property
    def plots_dir(self) -> Path:
        return self.reports_dir / "plots"

    @property
    def tune_dir(self) -> Path:
        return self.reports_dir / "tune"

    def experiment_dir(self, name: str) -> Path:
        """reports/poison, reports/fairness, reports/drift."""
        return self.reports_dir / name


SPLITS = ("train", "validation", "test")
