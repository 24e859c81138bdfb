"""The experiments' trained-project fixture, shared with the model tests."""

from tests.experiments.conftest import trained_project  # noqa: F401
