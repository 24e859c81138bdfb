"""The experiments' trained-project fixture, for the tests that only need a trained model."""

from tests.experiments.conftest import trained_project  # noqa: F401
