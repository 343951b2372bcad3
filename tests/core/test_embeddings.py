"""Sentence embeddings: the ONNX Runtime path gives the vectors sentence-transformers gives."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from core import embeddings

pytestmark = pytest.mark.skipif(
    not embeddings.available(), reason="the bundled MiniLM is not installed"
)

SAID = [
    "hi yeah um are you guys open on saturdays at all",
    "my daughter's three, is she too young for you to see her",
    "ok",
    "I cracked my back tooth on a popcorn kernel last night, can somebody see me today? " * 12,
]


def test_the_onnx_encoder_matches_sentence_transformers_batched_and_alone() -> None:
    if importlib.util.find_spec("onnx") is None:
        pytest.skip("the onnx package (cpu extra) exports the model")
    encoder = embeddings._model()
    assert encoder.session is not None, "exported to ONNX at load"
    expected = encoder.model.encode(SAID, normalize_embeddings=True, convert_to_numpy=True)
    together = embeddings.embed(SAID)  # padded to the longest (and cut at 256 tokens)
    alone = np.stack([embeddings.embed([text])[0] for text in SAID])
    assert together.shape == (len(SAID), 384) and together.dtype == np.float32
    assert np.abs(together - expected).max() < 1e-4
    assert np.abs(alone - expected).max() < 1e-4
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
