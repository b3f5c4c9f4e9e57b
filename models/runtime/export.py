"""Graph export and the graph cache.

A model's encoder (+ its per-token head) is exported once into ``$VOC_BASE_CACHE/onnx/``, named by a hash of the
weight files it depends on, and reused by every later process. Derived graphs (int8 rewrites, `quantize`) are made
once next to it.

The word-embedding lookup is kept out of the graph: the 250k × 384 table is saved as ``.npy`` and memory-mapped, so
a process holds only the rows its texts use instead of two private fp32 copies (one per graph, ~370 MB each). Word
embeddings are frozen in fine-tuning, so every graph of the cache (each model version and the base embedder) shares
one content-addressed table file (``table-<hash>.npy``, named in the graph's ``.table`` sidecar): 384 MB on disk
once rather than per model, and its pages are resident once when two processes read them.
"""
from __future__ import annotations

import gc
import hashlib
import os
import re
import time
import warnings
from pathlib import Path

import numpy as np

from models.paths import base_cache
from models.runtime import quantize

GRAPH_VERSION = 5  # bump when what a graph computes changes, so cached graphs are rebuilt
MODEL_GRAPH = re.compile(rf"[0-9a-f]{{16}}(-c\d+)?-g{GRAPH_VERSION}\.onnx")  # a model version's graph: its fingerprint
INT8_TAG = "-int8t"  # per-token int8 (quantize.per_token_int8); "-int8" graphs are of a per-call format and stale
W8_TAG = "-w8"  # int8 weights for OpenVINO's own activation quantisation (quantize.weight_int8)
# Graphs of this many model versions stay cached, the most recently used: each retrained model or upgrade exports
# a new ~86 MB graph, and a cache that only grows fills a disk.
KEEP_MODEL_GRAPHS = 4
# Files of a model directory the graph does not depend on: numpy parts read outside it (the fast-mode student,
# models/fast.py; the clause heads, models/clause_heads.py; the flag heads, models/flag_heads.py). Retraining them
# must not cost a re-export.
OUTSIDE_GRAPH = ("fast.safetensors", "clause_heads.safetensors", "flag_heads.safetensors")


def cache_dir() -> Path:
    """Where exported graphs and their embedding tables live."""
    cache = base_cache() / "onnx"
    cache.mkdir(parents=True, exist_ok=True)
    return cache


def fingerprint(model_dir: Path) -> str:
    """What the exported graph depends on: the weight files of the encoder and sentiment head, not those in
    OUTSIDE_GRAPH."""
    h = hashlib.sha256()
    files = sorted(Path(model_dir).rglob("*.safetensors"))
    for f in (f for f in files if f.name not in OUTSIDE_GRAPH):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def table_path(graph: Path) -> Path:
    return graph.parent / graph.with_suffix(".table").read_text(encoding="utf-8").strip()


def _replace_text(path: Path, text: str) -> None:
    tmp = path.with_suffix(f"{path.suffix}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def remove_stale(cache: Path) -> list[Path]:
    """Delete graphs of older GRAPH_VERSIONs, graphs of model versions beyond the KEEP_MODEL_GRAPHS most
    recently used (`model_graph` marks a graph used), and tables no graph names (an upgrade would otherwise
    leave ~470 MB per old graph behind). Safe while another process reads them: an open or mapped file
    lives on, and a process that needs a deleted graph again exports it again."""
    def stem(f: Path) -> str:
        return f.name.split(".")[0].removesuffix(INT8_TAG).removesuffix(W8_TAG)

    stale = [f for f in cache.iterdir()
             if f.is_file() and "-g" in f.name and not stem(f).endswith(f"-g{GRAPH_VERSION}")
             and stem(f).rsplit("-g", 1)[-1].split("-")[0].isdigit()]
    models = sorted((f for f in cache.glob(f"*-g{GRAPH_VERSION}.onnx") if MODEL_GRAPH.fullmatch(f.name)),
                    key=lambda f: f.stat().st_mtime, reverse=True)
    for graph in models[KEEP_MODEL_GRAPHS:]:
        stale += [f for f in cache.glob(graph.name.split(".")[0] + "*") if f.suffix in (".onnx", ".table")]
    for f in stale:
        f.unlink(missing_ok=True)
    used = {f.read_text(encoding="utf-8").strip() for f in cache.glob("*.table")}
    # an hour's grace: another process may have written a table and not yet the graph that names it
    orphans = [f for f in cache.glob("table-*.npy") if f.name not in used and time.time() - f.stat().st_mtime > 3600]
    for f in orphans:
        f.unlink(missing_ok=True)
    return stale + orphans


def export(encoder, path: Path, token_head=None, clause_layer: int | None = None) -> None:
    """Export a BERT `encoder` (+ an optional per-token `token_head`) as a graph over packed rows:
    (inputs_embeds, position_ids, segments) → one output vector per token. With `clause_layer`, each token's
    output also carries its last hidden state and that layer's (the features of models.clause_heads), so one
    pass gives a review's sentiment and every clause's features. `segments` numbers the
    sequences laid end to end in a row (0 = padding); a token attends only to its own sequence, and
    positions restart at 0 for each, so a packed sequence is computed exactly as it would be alone.

    Outputs are per token and callers average them per sequence: for a linear head, the mean of per-token
    logits equals the logits of the mean-pooled state. Per-token outputs also run 16–18% faster on long
    (150–256 token) windows than a graph that takes a 2-D mask and pools inside.
    The word-embedding table goes to the cache's shared table file of that content (written only if no
    graph has written it before)."""
    import torch  # ~1.5 s and ~200 MB: only a process that exports a graph pays for it; scoring never imports torch

    class PackedRows(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder, self.head = encoder, token_head

        def forward(self, inputs_embeds, position_ids, segments):
            same = (segments[:, :, None] == segments[:, None, :]) & (segments[:, None, :] > 0)
            bias = (~same).to(inputs_embeds.dtype)[:, None] * torch.finfo(inputs_embeds.dtype).min
            out = self.encoder(inputs_embeds=inputs_embeds, attention_mask=bias, position_ids=position_ids,
                               output_hidden_states=clause_layer is not None)
            h = out.last_hidden_state
            y = h if self.head is None else self.head(h)
            if clause_layer is not None:
                y = torch.cat([y, h, out.hidden_states[clause_layer]], -1)
            return y

    table = np.ascontiguousarray(encoder.embeddings.word_embeddings.weight.detach().float().numpy())
    shared = path.parent / f"table-{hashlib.sha256(table.data).hexdigest()[:16]}.npy"
    if not shared.exists():
        tmp_table = path.with_suffix(f".tmp{os.getpid()}.npy")
        np.save(tmp_table, table)
        os.replace(tmp_table, shared)
    example = (torch.zeros(2, 16, table.shape[1]), torch.arange(16).repeat(2, 1), torch.ones(2, 16, dtype=torch.long))
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about data-dependent branches in BERT's mask helper
        torch.onnx.export(PackedRows().eval(), example, str(tmp), opset_version=17, dynamo=False,
                          input_names=["inputs_embeds", "position_ids", "segments"], output_names=["token_outputs"],
                          dynamic_axes={name: {0: "batch", 1: "tokens"}
                                        for name in ("inputs_embeds", "position_ids", "segments", "token_outputs")})
    _replace_text(path.with_suffix(".table"), shared.name)  # table first: a graph on disk always has its table
    os.replace(tmp, path)  # atomic: a concurrent reader never sees half a file


def model_graph(build_net, model_dir: Path, clause_layer: int | None = None) -> Path:
    """The cached graph of a model directory; `build_net()` makes the torch network when it must be exported.
    `clause_layer`: the graph also outputs clause features (see `export`), and its name carries `-c{layer}`."""
    cache = cache_dir()
    tag = "" if clause_layer is None else f"-c{clause_layer}"
    path = cache / f"{fingerprint(model_dir)}{tag}-g{GRAPH_VERSION}.onnx"
    if not path.exists():
        net = build_net()
        export(net.encoder, path, token_head=net.head.out, clause_layer=clause_layer)
        gc.collect()  # the torch copy is no longer needed
        remove_stale(cache)
    else:
        try:
            os.utime(path)  # used now: remove_stale keeps the most recently used model graphs
        except OSError:  # a read-only cache
            pass
    return path


def int8_graph(path: Path) -> Path:
    """The graph with its weight MatMuls in per-token int8 (`quantize.per_token_int8`), made once next to the fp32
    graph in under a second."""
    return _derived_graph(path, INT8_TAG, quantize.per_token_int8)


def w8_graph(path: Path) -> Path:
    """The graph with int8 weights for the ov-int8 engine (`quantize.weight_int8`), made once in under a second."""
    return _derived_graph(path, W8_TAG, quantize.weight_int8)


def _derived_graph(path: Path, tag: str, rewrite) -> Path:
    """`rewrite(path, dst)` of the graph, cached next to it under `tag`."""
    q = path.with_name(path.stem + tag + ".onnx")
    if not q.exists():
        tmp = q.with_suffix(f".tmp{os.getpid()}")
        rewrite(path, tmp)
        _replace_text(q.with_suffix(".table"), table_path(path).name)
        os.replace(tmp, q)
        remove_stale(path.parent)  # e.g. per-call int8 graphs of an older format
    return q
