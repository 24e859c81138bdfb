"""The experiments' trained-project fixture, shared with the UI tests."""

from tests.experiments.conftest import trained_project  # noqa: F401
