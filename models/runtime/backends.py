"""Inference backends: an exported graph (runtime.export) run by ONNX Runtime or OpenVINO on token ids.

`OnnxNet` embeds token ids through the memory-mapped table, lays sequences out as `planner.plan_calls` says, runs
the calls on a pool of workers and averages each sequence's per-token outputs. The engines (`PRECISIONS`):
"fp32" (ONNX Runtime, exact to the trained weights), "int8" (ONNX Runtime on the per-token int8 graph), "bf16"
(OpenVINO, bf16 matrix products) and "ov-int8" (OpenVINO on int8 weights, activations quantised per token). Which
one a CPU gets is runtime.hardware's choice. Also here: how freed memory goes back to the OS (glibc tuning).
"""
from __future__ import annotations

import ctypes
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from models.runtime.export import int8_graph, model_graph, table_path, w8_graph
from models.runtime.planner import plan_calls

PRECISIONS = ("int8", "fp32", "bf16", "ov-int8")
OPENVINO = {  # the engines that run on OpenVINO, and how each is compiled
    "bf16": {"INFERENCE_PRECISION_HINT": "bf16"},
    # int8 weights (w8_graph), activations quantised per token in groups of 128 channels, the rest fp32. Groups of
    # 128 score the dev sets as groups of 32 do (zh 0.9237 against 0.9231, en 0.8811 against 0.8813) ~30% faster;
    # bigger groups are no faster.
    "ov-int8": {"INFERENCE_PRECISION_HINT": "f32", "DYNAMIC_QUANTIZATION_GROUP_SIZE": 128},
}
WIDTH_STEP = 16  # OpenVINO calls pad their rows to a multiple of this many tokens (see OnnxNet._call)


def keep_freed_memory_for_reuse() -> None:
    """Stop glibc from handing every large freed buffer back to the OS at once.

    With the ONNX Runtime arena off, each run allocates its activations anew; by default glibc serves those
    (1–10 MB) with fresh mmaps or trims them off the heap top on free, so every run page-faults its buffers in
    again (on 100 English reviews: 0.9–1.9 M minor faults and 2–3.5 s of system time, against 0.22 M and 0.7 s
    with these settings; ~1.4× the reviews/s). Memory still goes back to the OS where it matters:
    `release_free_memory` after loading and after every batch chunk."""
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: keep up to 1 GB of free heap top
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD: heap (reusable) up to 32 MB, glibc's maximum
    except (OSError, AttributeError):  # not glibc
        pass


def release_free_memory() -> None:
    """Hand freed heap back to the OS (glibc keeps it otherwise: ~0.4 GB of 1.7 GB after loading)."""
    try:
        # the process's own symbols, not ctypes.util.find_library: that forks a subprocess, and after a
        # fork HF tokenizers switch off their parallelism for good
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def _onnxruntime(path: Path, threads: int):
    """ONNX Runtime on `path`: feeds → the graph's token outputs."""
    import onnxruntime as ort  # each engine imports its own runtime; fast mode needs neither

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    # every batch has another shape: per-shape memory plans and an arena would only grow (to 3.7 GB RSS)
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
    int8 engine; see hardware.default_engine). One stream per thread, so that concurrent calls (the pool's split
    halves, two passes side by side) run at once instead of queueing behind each other; each call gets an infer
    request of its own thread."""
    import openvino as ov  # each engine imports its own runtime; fast mode needs neither

    # from the file in one call, which runs without the GIL (see OnnxNet: the tokenizer loads meanwhile)
    compiled = ov.Core().compile_model(str(path), "CPU", {
        **OPENVINO[precision], "INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": threads})
    local = threading.local()

    def run(feeds):
        if not hasattr(local, "request"):
            local.request = compiled.create_infer_request()
        return local.request.infer(feeds)[0]
    return run


_FIRST_CALL = threading.Lock()  # one OpenVINO net's first call at a time (see OnnxNet.__init__)


class OnnxNet:
    """Runs a graph of `export` on token ids, up to `threads` model calls at a time.

    Each call may use `threads` intra-op threads, and up to `threads` calls run at once (a pool): a lone
    short text gets every core, a call is split so that each worker has a share, and the API's two
    micro-batches in flight (api.service.batcher.MicroBatcher) compute side by side. ONNX Runtime runs a
    parallel section on the calling thread when the session's worker is busy, so two concurrent calls do not
    double the threads. On the API (8 clients, short reviews, sentiment only) two calls at a time on
    `threads`-thread sessions serve ~16% more reviews/s than one at a time, and keep a lone client's latency,
    which 1-thread sessions raise by a third.

    `precision`: "fp32" (ONNX Runtime, exact), "int8" (ONNX Runtime on the per-token int8 graph of `int8_graph`,
    batched and packed like fp32: a row's quantisation depends on that row only), "bf16" (OpenVINO, bf16
    matrix products: for CPUs with AMX or AVX-512 BF16) or "ov-int8" (OpenVINO on the int8 weights of `w8_graph`);
    see hardware.default_engine.
    """

    # pooled() calls in progress in this process, over every net: they all share the same cores
    active = 0
    active_lock = threading.Lock()

    def __init__(self, path: Path, threads: int, precision: str = "fp32"):
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
                # copying meanwhile deadlocks both (the pool's two first calls, each thread waiting on the other). One
                # call here, before this net takes calls and never beside another net's first call (the two graphs load
                # at once), does that setup alone.
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
            # random widths take 6.6 ms a call, of one width 3.8 ms); widths in steps of WIDTH_STEP repeat far more often
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


def onnx_net(build_net, model_dir: Path, threads: int, precision: str = "fp32", clause_layer: int | None = None) -> OnnxNet:
    """The cached graph of a model directory (`export.model_graph`), loaded on `precision`'s engine; `build_net()`
    makes the torch network when the graph must be exported. `clause_layer`: also output clause features."""
    return OnnxNet(model_graph(build_net, model_dir, clause_layer), threads, precision)
