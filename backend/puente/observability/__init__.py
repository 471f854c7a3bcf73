"""Logs, metrics and traces: how an operator sees what Puente is doing."""
