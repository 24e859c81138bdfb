"""The scoring API: the app, its request parsing, telemetry and registry following."""
