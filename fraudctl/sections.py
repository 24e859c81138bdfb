"""The base of every params.yaml section, shared by the config loader and the model
families (which declare their own hyper-parameter sections beside their factories)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Fraction = Annotated[float, Field(gt=0.0, lt=1.0)]
PositiveInt = Annotated[int, Field(gt=0)]


class _Section(BaseModel):
    # strict: YAML's `yes` is a bool, and a bool must never pass as an int or a float.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
