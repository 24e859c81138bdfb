"""MLflow's entry point for fraudctl models (``python_function`` ``loader_module``).

``mlflow models serve -m models/model --env-manager local`` and ``mlflow.pyfunc.load_model``
call :func:`_load_pyfunc` with the model's data folder; ``predict`` takes raw columns (the
model's input schema) and returns fraud probabilities; a model with rules returns a frame
of ``probability``, ``decision`` (block, review, allow) and ``rule`` (the deciding rule,
None where the model decided), decided by the model's own rules as every other door does.
History features use the rows of the request itself as history: for history from a store,
use ``fraudctl serve``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fraudctl.model.bundle import FraudModel, load_payload


class PyfuncModel:
    def __init__(self, model: FraudModel):
        self.model = model

    def predict(
        self, model_input: Any, params: dict[str, Any] | None = None
    ) -> np.ndarray | pd.DataFrame:
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        if not self.model.rules:
            return self.model.predict_raw(frame)
        decided = self.model.decide(frame)
        return pd.DataFrame(
            {
                "probability": decided.probability,
                "decision": decided.decision,
                "rule": decided.rule,
            },
            index=frame.index,
        )


def _load_pyfunc(data_path: str) -> PyfuncModel:
    return PyfuncModel(load_payload(Path(data_path)))
