"""Exception types for user mistakes.

Each carries enough context (which file, which key, which rows) for one precise line
of output; the CLI turns any of them into a red message and exit code 2. Anything
else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations


class FraudctlError(Exception):
    """A mistake the user can fix: bad input, bad configuration, a missing artifact."""

    exit_code = 2


class ConfigError(FraudctlError):
    """params.yaml (or an option) asks for something impossible or unknown."""


class DataError(FraudctlError):
    """An input table cannot be used: unreadable, wrong columns, bad values."""


class ArtifactError(FraudctlError):
    """An artifact a stage needs (a split, a model) is missing or unreadable."""


class TrackingError(FraudctlError):
    """The MLflow store or registry refused an operation (unknown version, no such run)."""
