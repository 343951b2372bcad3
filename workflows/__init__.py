"""Temporal workflows: deterministic code only (arrives with the "Durable calls" issue)."""
