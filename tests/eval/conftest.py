"""The running platform of the scenario tests, for `--audio` runs (tests/eval/test_audio.py)."""

from tests.scenarios.conftest import engines, platform

__all__ = ["engines", "platform"]
