"""Engines, one small interface per kind (`base.py`) and one module per engine."""
