"""Scoring a transaction stream: `fraudctl stream`, a consumer-group member that decides
each transaction once, whatever is redelivered (see docs/streaming.md)."""
