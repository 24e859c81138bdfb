"""fraudctl: a command-line MLOps toolkit for credit-card fraud detection."""

__version__ = "0.1.0"
