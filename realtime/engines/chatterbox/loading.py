"""Checking and loading a Chatterbox checkpoint directory (original or turbo), then warming it.

The directory is checked before anything heavy is imported, so a wrong CHATTERBOX_MODEL_PATH
fails in milliseconds with the list of missing files.

chatterbox-tts itself is never imported at module level: its metadata pins old torch and
transformers releases, so it is installed apart (the `gpu` extra, then `--no-deps`), and the
rest of the realtime plane must import without it.
"""

from __future__ import annotations

import importlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, cast

from realtime.engines.chatterbox.errors import ChatterboxError, ChatterboxWeightsError
from realtime.engines.chatterbox.model import ChatterboxModel, Variant
from realtime.engines.chatterbox.styles import style_for

__all__ = [
    "BUILTIN_VOICE_FILE",
    "INSTALL_HINT",
    "ORIGINAL_FILES",
    "TURBO_FILES",
    "TURBO_TOKENIZER_CHOICES",
    "WARM_UP_TEXT",
    "LoadedChatterbox",
    "detect_variant",
    "load_chatterbox",
    "missing_weight_files",
]

_LOGGER = logging.getLogger(__name__)

ORIGINAL_FILES: Final = (
    "ve.safetensors",
    "t3_cfg.safetensors",
    "s3gen.safetensors",
    "tokenizer.json",
)
# Turbo loads its GPT-2 tokenizer with `AutoTokenizer.from_pretrained(dir)`: a fast
# `tokenizer.json` or the slow pair `vocab.json` + `merges.txt` will do.
TURBO_FILES: Final = ("ve.safetensors", "t3_turbo_v1.safetensors", "s3gen_meanflow.safetensors")
TURBO_TOKENIZER_CHOICES: Final = (("tokenizer.json",), ("vocab.json", "merges.txt"))
BUILTIN_VOICE_FILE: Final = "conds.pt"
INSTALL_HINT: Final = (
    "ChatterboxEngine needs chatterbox-tts: install the 'gpu' extra "
    "(pip install -e '.[gpu]'), then `pip install --no-deps chatterbox-tts` "
    "(its metadata pins old torch and transformers releases; see shared/STACK.md)"
)
WARM_UP_TEXT: Final = "Hello, thanks for calling."


def _turbo_tokenizer_present(path: Path) -> bool:
    return any(all((path / f).is_file() for f in choice) for choice in TURBO_TOKENIZER_CHOICES)


def missing_weight_files(path: Path, variant: Variant) -> list[str]:
    """The files `from_local` needs for `variant` that `path` lacks (empty when complete)."""
    if not path.is_dir():
        return [f"{path} (not a directory)"]
    needed = ORIGINAL_FILES if variant == "original" else TURBO_FILES
    missing = [name for name in needed if not (path / name).is_file()]
    if variant == "turbo" and not _turbo_tokenizer_present(path):
        missing.append("tokenizer.json (or vocab.json + merges.txt)")
    return missing


def detect_variant(path: Path) -> Variant:
    """Turbo when the turbo T3 checkpoint is there, else the original model."""
    return "turbo" if (path / "t3_turbo_v1.safetensors").is_file() else "original"


@dataclass(frozen=True)
class LoadedChatterbox:
    """A model loaded and warmed, with how long that took."""

    model: ChatterboxModel
    variant: Variant
    path: Path
    device: str
    load_seconds: float
    warm_up_seconds: float | None


def _model_class(variant: Variant) -> Any:
    module_name, class_name = (
        ("chatterbox.tts", "ChatterboxTTS")
        if variant == "original"
        else ("chatterbox.tts_turbo", "ChatterboxTurboTTS")
    )
    try:
        # importlib keeps the absent package out of mypy's sight: it ships no types either way.
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    return getattr(module, class_name)


def load_chatterbox(
    path: Path,
    device: str = "cuda",
    variant: Variant | None = None,
    *,
    warm_up: bool = True,
) -> LoadedChatterbox:
    """Load a Chatterbox checkpoint directory onto `device` and run one warm-up generation.

    The directory is checked before anything heavy is imported, so a wrong path fails in
    milliseconds with the list of missing files. `variant=None` reads it off the files.
    """
    path = Path(path)
    chosen: Variant = variant or detect_variant(path)
    missing = missing_weight_files(path, chosen)
    if missing:
        raise ChatterboxWeightsError(path, chosen, missing)
    if not (path / BUILTIN_VOICE_FILE).is_file():
        _LOGGER.warning(
            "%s has no %s: there is no built-in voice, so every call needs a voice profile",
            path,
            BUILTIN_VOICE_FILE,
        )
    model_class = _model_class(chosen)
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ChatterboxError(f"device {device!r} asked for, but torch sees no CUDA GPU")
    started = time.perf_counter()
    # from_local puts every submodule on `device` itself (and maps CUDA-saved conds to it).
    model = cast(ChatterboxModel, model_class.from_local(str(path), device))
    load_seconds = time.perf_counter() - started
    warm_up_seconds: float | None = None
    if warm_up and model.conds is not None:
        started = time.perf_counter()
        # The first generation compiles kernels and sizes caches: pay it now, not on a call.
        model.generate(WARM_UP_TEXT, **style_for(None).generation_kwargs(chosen))
        warm_up_seconds = time.perf_counter() - started
    _LOGGER.info(
        "Chatterbox %s loaded from %s on %s in %.1f s (warm-up %s s)",
        chosen,
        path,
        device,
        load_seconds,
        "skipped" if warm_up_seconds is None else f"{warm_up_seconds:.2f}",
    )
    return LoadedChatterbox(model, chosen, path, device, load_seconds, warm_up_seconds)
