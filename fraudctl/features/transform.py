"""The feature transform: raw transaction columns -> the estimator's input matrix.

It is fitted once (the categorical vocabularies, on the train split), saved as JSON inside
the model, and applied by every door: the ``features`` stage, ``evaluate`` and the
experiments (through the stage's output), ``fraudctl score``, the MLflow pyfunc and
``fraudctl serve`` (through :mod:`fraudctl.features.online`, which calls the same kernel).
A model is ``raw row -> transform -> estimator -> probability -> threshold``.

JSON, not pickle: loading a model must never run code (see :mod:`fraudctl.model.bundle`).
Every ordered thing is written as a JSON list, never as the key order of an object: a
writer that sorts keys (ours did) must not be able to change which column a code lands in.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fraudctl.config import FeaturesParams
from fraudctl.durations import DEFAULT_TIME_UNIT, TIME_UNITS, clock_seconds, parse_duration
from fraudctl.errors import ConfigError, DataError
from fraudctl.features.kernel import (
    AMOUNT_SCALE,
    WindowSpec,
    calendar_features,
    entity_features,
)
from fraudctl.features.labels import source_labels

FORMAT_VERSION = 2
# A categorical column keeps at most this many levels, the most frequent in the train split;
# rarer ones score as unknown. 123,665 levels (an id declared categorical) would otherwise
# become a vocabulary nobody meant and a model that memorises rows.
MAX_CATEGORY_LEVELS = 1000
# Below this many rows the entity kinds run one after another (threads cost more).
PARALLEL_FROM_ROWS = 50_000


def _ms(duration: str) -> int:
    return round(parse_duration(duration) * 1000)


def window_specs(params: FeaturesParams) -> list[WindowSpec]:
    specs = []
    for role, entity in params.entities.items():
        risk = entity.risk
        specs.append(
            WindowSpec(
                role=role,
                windows_ms=tuple(_ms(w) for w in entity.windows),
                aggregates=tuple(entity.aggregates) if entity.windows else (),
                relative_amount=entity.relative_amount and bool(entity.windows),
                time_since_previous=entity.time_since_previous,
                risk_windows_ms=tuple(_ms(w) for w in risk.windows) if risk else (),
                risk_delay_ms=_ms(risk.delay) if risk else 0,
                risk_analyst_delay_ms=_ms(risk.analyst_delay)
                if risk and risk.analyst_delay
                else -1,
            )
        )
    return specs


@dataclass
class FeatureTransform:
    """Column roles, categorical vocabularies and feature definitions; JSON-serialisable."""

    time: str
    time_kind: str  # "datetime" (parsed, UTC) or "numeric" (a clock counting time_unit)
    target: str
    amount: str | None
    numeric: list[str]
    categorical: dict[str, list[str]]  # column -> vocabulary; the code is the index
    entities: dict[str, str]  # role -> id column
    specs: list[WindowSpec]
    calendar: list[str]
    version: int = FORMAT_VERSION
    # the analysts' label column, read beside the target by risk features with an analyst
    # delay (None: labels come from the target alone)
    analyst: str | None = None
    # the step of a numeric clock (ms, s, m, h, d); saved only when not seconds, so a
    # transform saved before units existed reads as seconds and keeps its digest
    time_unit: str = DEFAULT_TIME_UNIT
    _output: list[str] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if self.time_unit not in TIME_UNITS:
            raise ValueError(f"time_unit {self.time_unit!r} is not one of {', '.join(TIME_UNITS)}")
        if self.time_unit != DEFAULT_TIME_UNIT and self.time_kind == "datetime":
            raise ValueError(f"a datetime clock has no time_unit (got {self.time_unit!r})")
        if self.time_unit == "d" and self.calendar:
            raise ValueError(f"calendar features {self.calendar} on a clock that counts days")

    # --- the contract -------------------------------------------------------------

    @property
    def output_columns(self) -> list[str]:
        """The estimator's input columns, in order."""
        if not self._output:
            names = [*self.numeric, *self.categorical]
            for spec in self.specs:
                names += spec.names()
            names += list(calendar_features(np.zeros(0, dtype=np.int64), tuple(self.calendar)))
            self._output = names
        return self._output

    @property
    def raw_columns(self) -> list[str]:
        """Every raw column the transform reads (besides the optional label)."""
        columns = [self.time, *self.entities.values(), *self.numeric, *self.categorical]
        if self.amount and self.amount not in columns:
            columns.append(self.amount)
        return list(dict.fromkeys(columns))

    @property
    def needs_history(self) -> bool:
        return bool(self.specs)

    @property
    def needs_time(self) -> bool:
        return bool(self.specs or self.calendar)

    # --- fitting and serialisation ------------------------------------------------

    @classmethod
    def fit(
        cls,
        train: pd.DataFrame,
        *,
        time: str,
        target: str,
        amount: str | None,
        features: list[str],
        categorical: list[str],
        entities: dict[str, str],
        params: FeaturesParams,
        analyst: str | None = None,
        time_unit: str = DEFAULT_TIME_UNIT,
    ) -> FeatureTransform:
        """Learn the vocabularies of the categorical columns from the train split (at most
        MAX_CATEGORY_LEVELS each, the most frequent; :func:`capped_levels` says which).
        ``time_unit`` is the step of a numeric clock (data.schema.time_unit)."""
        vocabularies = {
            column: frequent_levels(category_strings(train[column]))
            for column in features
            if column in categorical
        }
        kind = "datetime" if pd.api.types.is_datetime64_any_dtype(train[time]) else "numeric"
        if time_unit == "d" and params.calendar:
            raise ConfigError(
                f"features.calendar: {', '.join(params.calendar)} need the time of day, but "
                "data.schema.time_unit is d (a clock that counts days has no hour); remove "
                "features.calendar or give a finer time column"
            )
        specs = window_specs(params)
        return cls(
            time=time,
            time_kind=kind,
            target=target,
            amount=amount,
            numeric=[c for c in features if c not in categorical],
            categorical=vocabularies,
            entities=dict(entities),
            specs=specs,
            calendar=list(params.calendar),
            analyst=analyst if any(s.risk_analyst_delay_ms >= 0 for s in specs) else None,
            time_unit=time_unit,
        )

    def to_dict(self) -> dict[str, Any]:
        """The transform as JSON-ready data; column order lives in lists only. Settings at
        their "off" value are left out, so a transform that does not use them is written
        (and digested) as before they existed."""
        data = {k: v for k, v in asdict(self).items() if not k.startswith("_")}
        if data["analyst"] is None:
            del data["analyst"]
        for spec in data["specs"]:
            if spec["risk_analyst_delay_ms"] < 0:
                del spec["risk_analyst_delay_ms"]
        if self.time_unit == DEFAULT_TIME_UNIT:
            del data["time_unit"]
        data["categorical"] = [
            {"column": column, "vocabulary": list(vocabulary)}
            for column, vocabulary in self.categorical.items()
        ]
        data["entities"] = [{"role": role, "column": c} for role, c in self.entities.items()]
        data["output_columns"] = list(self.output_columns)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureTransform:
        """Rebuild a saved transform, refusing one whose recorded output order is not the
        order its definition produces (a hand-edited or damaged file)."""
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(
                f"feature transform format {data.get('version')!r} is not {FORMAT_VERSION}"
            )
        specs = [
            WindowSpec(**{k: tuple(v) if isinstance(v, list) else v for k, v in s.items()})
            for s in data["specs"]
        ]
        fields = {
            k: v
            for k, v in data.items()
            if k not in {"specs", "output_columns", "categorical", "entities"}
        }
        transform = cls(
            **fields,
            specs=specs,
            categorical={item["column"]: list(item["vocabulary"]) for item in data["categorical"]},
            entities={item["role"]: item["column"] for item in data["entities"]},
        )
        recorded = list(data["output_columns"])
        if recorded != transform.output_columns:
            raise ValueError(
                f"output_columns {recorded} is not the order the transform computes "
                f"({transform.output_columns})"
            )
        return transform

    def digest(self) -> str:
        """SHA-256 of the transform's canonical JSON: two transforms with equal digests
        compute the same model inputs from the same raw rows."""
        import hashlib
        import json

        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    # --- applying -----------------------------------------------------------------

    def time_ms(self, values: pd.Series) -> np.ndarray:
        """Epoch milliseconds (int64) from a datetime or a numeric clock in time_unit."""
        return time_to_ms(values, self.time_kind, self.time_unit)

    def encode_categories(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """Category codes as floats; an unknown or missing category is NaN (LightGBM's
        missing branch), never an error at scoring time."""
        out = {}
        for column, vocabulary in self.categorical.items():
            lookup = pd.Index(vocabulary)
            codes = lookup.get_indexer(category_strings(frame[column])).astype(np.float64)
            codes[codes < 0] = np.nan
            out[column] = codes
        return out

    def apply(self, frame: pd.DataFrame, history: pd.DataFrame | None = None) -> pd.DataFrame:
        """Model inputs for every row of ``frame`` (same order, same index).

        ``history`` holds earlier transactions (with labels where known) that feed the
        history features but are not returned. Rows are placed history first, then
        ``frame``, each in its own order: ties in time count the earlier-placed row first.
        """
        matrix = self.matrix(frame, history)
        return pd.DataFrame(matrix, columns=self.output_columns, index=frame.index)

    def matrix(self, frame: pd.DataFrame, history: pd.DataFrame | None = None) -> np.ndarray:
        """:meth:`apply` as a C-contiguous (rows x features) float64 array.

        Only the columns history features need (time, ids, amount, label) are joined with
        ``history``; the output holds ``frame``'s rows alone. On a VM, touching fresh
        memory costs about as much as computing the features, so none is spent on rows
        that are not returned.
        """
        columns = self.output_columns
        out = np.empty((len(frame), len(columns)))
        position = {name: j for j, name in enumerate(columns)}
        for column in self.numeric:
            out[:, position[column]] = frame[column].to_numpy(dtype=np.float64)
        for column, codes in self.encode_categories(frame).items():
            out[:, position[column]] = codes
        if not self.needs_time:
            return out
        frame_ms = self.time_ms(frame[self.time])
        if self.specs:
            parts = [frame] if history is None else [history, frame]
            n_history = 0 if history is None else len(history)
            time_ms = np.concatenate([self.time_ms(p[self.time]) for p in parts[:-1]] + [frame_ms])
            amount_fp = np.concatenate(
                [
                    amount_fixed_point(p[self.amount].to_numpy(dtype=np.float64))
                    if self.amount
                    else np.zeros(len(p), dtype=np.int64)
                    for p in parts
                ]
            )
            labels = [source_labels(p, self.target, self.analyst) for p in parts]
            labelled = np.concatenate([pair[0] for pair in labels])
            fraud = np.concatenate([pair[1] for pair in labels])
            rows = np.arange(-n_history, len(frame), dtype=np.int64)

            def block(spec: WindowSpec) -> None:
                codes = entity_codes([p[self.entities[spec.role]] for p in parts])
                order = entity_time_order(codes, time_ms)
                entity_features(
                    spec,
                    codes[order],
                    time_ms[order],
                    amount_fp[order],
                    labelled[order],
                    fraud[order],
                    rows=rows[order],
                    out=out,
                    first=position[spec.names()[0]],
                )

            # The compiled kernel releases the GIL: entity kinds run side by side.
            if len(self.specs) > 1 and len(time_ms) >= PARALLEL_FROM_ROWS:
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(min(len(self.specs), os.cpu_count() or 1)) as pool:
                    list(pool.map(block, self.specs))
            else:
                for spec in self.specs:
                    block(spec)
        for name, values in calendar_features(frame_ms, tuple(self.calendar)).items():
            out[:, position[name]] = values
        return out


def frequent_levels(values: pd.Series) -> list[str]:
    """The sorted levels of a categorical column, capped at the most frequent ones."""
    counts = values.dropna().value_counts(sort=False)
    if len(counts) > MAX_CATEGORY_LEVELS:
        ranked = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
        return sorted(str(level) for level, _ in ranked[:MAX_CATEGORY_LEVELS])
    return sorted(str(level) for level in counts.index)


def capped_levels(train: pd.DataFrame, transform: FeatureTransform) -> dict[str, int]:
    """Column -> how many levels the train split had, for columns whose vocabulary was cut."""
    seen = {c: int(category_strings(train[c]).nunique()) for c in transform.categorical}
    return {c: n for c, n in seen.items() if n > len(transform.categorical[c])}


def entity_codes(parts: list[pd.Series]) -> np.ndarray:
    """Dense int64 codes of entity ids over several frames (history, then the batch)."""
    if all(pd.api.types.is_integer_dtype(p) for p in parts):
        values = np.concatenate([p.to_numpy() for p in parts])
    else:
        values = np.concatenate([entity_keys(p).to_numpy(dtype=object) for p in parts])
    codes, _ = pd.factorize(values, sort=False)
    return codes.astype(np.int64, copy=False)


def entity_time_order(codes: np.ndarray, time_ms: np.ndarray) -> np.ndarray:
    """Row order by (entity, time, arrival), from two stable sorts.

    Logs usually arrive in time order, so the time sort is skipped when it would change
    nothing, and entity codes that fit 16 bits are radix-sorted: several times faster than
    a three-key ``lexsort`` on a million rows.
    """
    if time_ms.size > 1 and not bool(np.all(time_ms[1:] >= time_ms[:-1])):
        by_time = np.argsort(time_ms, kind="stable")
    else:
        by_time = None
    keys = codes if by_time is None else codes[by_time]
    if keys.size and keys.max() < 2**16:
        keys = keys.astype(np.uint16)
    order = np.argsort(keys, kind="stable")
    return order if by_time is None else by_time[order]


# --- helpers shared with the online path ----------------------------------------------


def time_to_ms(values: pd.Series, kind: str, unit: str = DEFAULT_TIME_UNIT) -> np.ndarray:
    """The kernel's clock: int64 milliseconds. A numeric clock is read as time since an
    epoch (its zero is midnight, 1970-01-01 UTC, for the calendar features)."""
    if kind == "datetime":
        stamps = pd.to_datetime(values, utc=True)
        return (stamps.astype("int64") // 1_000_000).to_numpy(dtype=np.int64)
    seconds = clock_seconds(values.to_numpy(dtype=np.float64), unit)
    return np.round(seconds * 1000).astype(np.int64)


def amount_fixed_point(amounts: np.ndarray) -> np.ndarray:
    return np.round(amounts * AMOUNT_SCALE).astype(np.int64)


def entity_keys(values: pd.Series) -> pd.Series:
    """Entity ids as text, so 42 and "42" are one customer everywhere."""
    if pd.api.types.is_float_dtype(values):
        values = values.astype("Int64")
    return values.astype(str)


def category_strings(values: pd.Series) -> pd.Series:
    """Categories as text (integer codes become "3"); missing stays missing."""
    if pd.api.types.is_float_dtype(values):
        values = values.astype("Int64")
    return values.astype("string").astype(object).where(values.notna(), None)


def require_columns(frame: pd.DataFrame, columns: list[str], source: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"{source}: missing column(s) {', '.join(missing)}; the model reads "
            f"{', '.join(columns)}"
        )
