"""Fault-injection runs: `make chaos` (the webhook soak is `python -m workers.chaos.soak`)."""
