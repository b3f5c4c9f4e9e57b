"""The sentiment scorer used by the API, the CLI and batch jobs.

Like a transformers `Pipeline` it runs preprocess → forward → postprocess:

- preprocess: each `Document` becomes one or more token windows. A text that
  fits the model window (`max_len`, the length the model was trained at: 128 tokens) is one window; a longer one is packed
  sentence by sentence into windows (an over-long sentence is cut into token
  chunks), so nothing is ever silently dropped.
- forward: windows batched by a token budget (padded, or packed several to a row), run by ONNX Runtime
  (models/runtime; bf16 on CPUs with AMX or AMD AVX-512 BF16, int8 on OpenVINO on other Intel CPUs with AVX-512 VNNI, else per-token int8; `VOC_ENGINE=fp32` for exact fp32) or PyTorch
  (`engine="torch"`, used for training-time checks).
- postprocess: a document's probabilities are the token-weighted mean over its
  windows; label = argmax, score = P(pos) − P(neg), confidence = max prob.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models.clause_heads import ClauseHeads
from models.encoder import ensure_base_model, load_tokenizer
from models.paths import read_meta
from models.runtime.backends import PRECISIONS, onnx_net
from models.runtime.hardware import default_engine
from models.runtime.planner import padded_batches
from models.schema import LABELS, Sentiment, sentiment_from_probs
from nlp.document import Document


@dataclass
class Window:
    doc: int
    ids: list[int]
    # (clause index in the document, first token, end token) of the clauses read in this window
    clauses: list[tuple[int, int, int]] = field(default_factory=list)


class SentimentScorer:
    """Load once, share everywhere. `threads` defaults to the number of cores."""

    def __init__(self, net, tokenizer, meta: dict, threads: int | None = None, batch_tokens: int = 1024, heads=None):
        self.net = net.eval() if hasattr(net, "eval") else net
        self.tokenizer = tokenizer
        self.meta = meta
        self.name = meta.get("name", "voc-sentiment")
        self.labels = tuple(meta.get("labels", LABELS))
        self.prefix = meta.get("prefix", "query: ")
        self.window = int(meta.get("max_len", 256))
        self.batch_tokens = batch_tokens
        self.threads = threads or os.cpu_count() or 1
        self.heads = heads  # models.clause_heads.ClauseHeads: aspects from the same pass (None: sentiment only)
        self.clause_layer = heads.layer if heads is not None else None  # the net also outputs clause features
        # what runs the network (reported by GET /v1/models): an OnnxNet knows its precision (int8, bf16, ov-int8, fp32)
        self.engine = "torch" if hasattr(net, "eval") else net.precision
        # "query:" then the text tokenised on its own (which starts with "▁") equals the
        # joint tokenisation of "query: " + text used in training.
        self._prefix_ids = tokenizer(self.prefix.rstrip(), add_special_tokens=False)["input_ids"]
        self._prefix_len = len(self._prefix_ids)

    @classmethod
    def load(cls, model_dir: Path, threads: int | None = None, engine: str | None = None,
             clause_layer: int | None = None) -> "SentimentScorer":
        """engine: "int8" (ONNX Runtime, per-token int8 matrix products), "bf16" (OpenVINO, bf16 matrix products
        on AMX or AVX-512 BF16), "ov-int8" (OpenVINO, int8 weights and per-token activations), "fp32" (ONNX Runtime,
        exact) or "torch"; by default the engine for this CPU (models.runtime.hardware.default_engine: bf16 on AMX and AMD AVX-512 BF16,
        ov-int8 on other Intel CPUs with AVX-512 VNNI, else int8)."""
        base = ensure_base_model()
        threads = threads or os.cpu_count() or 1

        def torch_net():  # torch (~200 MB) is only imported here
            from models.classifier import load_net

            return load_net(model_dir, base)

        engine = engine or default_engine()
        heads = ClauseHeads.load(model_dir)
        if heads is not None:
            clause_layer = heads.layer
        if engine in PRECISIONS:
            # the torch network is only built when the graph is not cached yet
            net = onnx_net(lambda: torch_net()[0], model_dir, threads, engine,
                           clause_layer=clause_layer)
            meta = read_meta(model_dir)
        elif engine == "torch":
            net, meta = torch_net()
            heads = clause_layer = None  # clause features come from the exported graph only
        else:
            raise ValueError(f"unknown engine {engine!r}; use int8, bf16, ov-int8, fp32 or torch")
        scorer = cls(net, load_tokenizer(model_dir, base), meta, threads, heads=heads)
        scorer.clause_layer = clause_layer
        return scorer

    # -- preprocess ------------------------------------------------------
    def windows(self, docs: list[Document], clauses: bool = False) -> list[Window]:
        """Token windows of the documents; with `clauses`, each window also lists the token range of every clause it
        reads (a clause cut by a window end is read up to that end)."""
        tok, room = self.tokenizer, self.window - 2 - self._prefix_len
        enc = tok([d.text for d in docs], add_special_tokens=False)["input_ids"]
        out = []
        for i, (doc, ids) in enumerate(zip(docs, enc)):
            if len(ids) <= room:
                out.append(Window(i, ids, self._clause_ranges(doc, [doc.text], [ids])[0] if clauses else []))
                continue
            sentences = doc.sentences
            sent_ids = tok([s.text for s in sentences], add_special_tokens=False)["input_ids"]
            ranges = self._clause_ranges(doc, [s.text for s in sentences], sent_ids, sentences) if clauses else None
            cur: list[int] = []
            cur_clauses: list[tuple[int, int, int]] = []
            for u, s in enumerate(sent_ids):
                for k in range(0, max(len(s), 1), room):  # an over-long sentence becomes several chunks
                    piece = s[k:k + room]
                    if cur and len(cur) + len(piece) > room:
                        out.append(Window(i, cur, cur_clauses)); cur, cur_clauses = [], []
                    if ranges is not None:  # clauses that start in this chunk, moved to where it lands
                        cur_clauses += [(c, len(cur) + a - k, len(cur) + min(b, k + room) - k)
                                        for c, a, b in ranges[u] if k <= a < k + room]
                    cur = cur + piece
            if cur:
                out.append(Window(i, cur, cur_clauses))
        return out

    def _clause_ranges(self, doc: Document, units: list[str], unit_ids: list[list[int]],
                       unit_spans: list | None = None) -> list[list[tuple[int, int, int]]]:
        """For each unit of text (the whole text, or each sentence), the (clause index, first token, end token) of
        the clauses in it. A clause's token range is that of its characters: the tokens of the unit's text up to
        the clause's start and end (a sentencepiece boundary falls at a clause's punctuation)."""
        found: list[list[tuple[int, int, int]]] = [[] for _ in units]
        cuts, where = [], []
        u, cursor = 0, 0
        for c_i, clause in enumerate(doc.clauses):
            if unit_spans is not None:  # the sentence holding the clause (clauses come in order)
                while u < len(units) - 1 and clause.start >= unit_spans[u].end:
                    u, cursor = u + 1, 0
            a = units[u].find(clause.text, cursor)
            if a < 0:
                continue
            cursor = a + len(clause.text)
            # a trailing space would tokenize as a piece of its own; in the whole text it joins the next word
            cuts += [units[u][:a].rstrip(), units[u][:cursor]]
            where.append((u, c_i))
        if not where:
            return found
        lengths = [len(ids) for ids in self.tokenizer(cuts, add_special_tokens=False)["input_ids"]]
        for (u, c_i), a, b in zip(where, lengths[0::2], lengths[1::2]):
            a, b = min(a, len(unit_ids[u]) - 1), min(max(b, a + 1), len(unit_ids[u]))
            if a >= 0:
                found[u].append((c_i, a, b))
        return found

    def _input(self, ids: list[int]) -> list[int]:
        return [self.tokenizer.bos_token_id] + self._prefix_ids + ids + [self.tokenizer.eos_token_id]

    # -- forward ---------------------------------------------------------
    def forward(self, windows: list[Window]) -> np.ndarray:
        seqs = [self._input(w.ids) for w in windows]
        if hasattr(self.net, "pooled"):  # ONNX Runtime: per-token logits averaged per window (packed rows)
            return self._softmax(self.net.pooled(seqs, self.batch_tokens, 128)[:, :len(self.labels)])
        import torch  # the torch engine only (training-time checks): ~1.5 s that scoring never pays

        torch.set_num_threads(self.threads)
        probs = np.zeros((len(seqs), len(self.labels)), dtype=np.float32)
        for chunk, ids, mask in padded_batches(seqs, self.tokenizer.pad_token_id, self.batch_tokens, 128):
            with torch.inference_mode():
                probs[chunk] = self._softmax(self.net(torch.from_numpy(ids), torch.from_numpy(mask)).float().numpy())
        return probs

    @staticmethod
    def _softmax(logits: np.ndarray) -> np.ndarray:
        e = np.exp(logits - logits.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    # -- postprocess -----------------------------------------------------
    def postprocess(self, n_docs: int, windows: list[Window], probs: np.ndarray) -> list[Sentiment]:
        acc = np.zeros((n_docs, len(self.labels)))
        weight = np.zeros(n_docs)
        for w, p in zip(windows, probs):
            acc[w.doc] += p * max(len(w.ids), 1)
            weight[w.doc] += max(len(w.ids), 1)
        return [sentiment_from_probs(acc[i] / weight[i], self.labels) for i in range(n_docs)]

    def score_docs(self, docs: list[Document], max_windows: int = 4096) -> list[Sentiment]:
        """Score documents; huge inputs are processed a slice of windows at a time (bounded memory)."""
        if not docs:
            return []
        windows = self.windows(docs)
        probs = np.concatenate([self.forward(windows[k:k + max_windows])
                                for k in range(0, len(windows), max_windows)])
        return self.postprocess(len(docs), windows, probs)

    def analyze_docs(self, docs: list[Document], doc_vectors: bool = False):
        """One forward pass: each document's sentiment and, per clause, its features for the clause heads
        (None for a clause the windows do not read). With `doc_vectors`, also each document's pooled vector (the
        token-weighted mean of its windows' mean states, the same features as a clause's, over the whole review)
        as a third item: (n_docs, n_features), for the flag heads (models.flag_heads)."""
        if self.clause_layer is None:
            raise RuntimeError(f"model {self.name} outputs no clause features; aspects come from models.aspects")
        if not docs:
            return ([], [], np.zeros((0, 0), np.float32)) if doc_vectors else ([], [])
        windows = self.windows(docs, clauses=True)
        skip = 1 + self._prefix_len  # <s> and the prefix come before a window's text
        seqs = [self._input(w.ids) for w in windows]
        spans = [[(skip + a, skip + b) for _, a, b in w.clauses] for w in windows]
        means, span_means = self.net.pooled(seqs, self.batch_tokens, 128, spans=spans)
        n = len(self.labels)
        feats: list[list[np.ndarray | None]] = [[None] * len(d.clauses) for d in docs]
        for w, m in zip(windows, span_means):
            for (c_i, _, _), vec in zip(w.clauses, m if m is not None else []):
                if feats[w.doc][c_i] is None:
                    feats[w.doc][c_i] = vec[n:]
        sentiments = self.postprocess(len(docs), windows, self._softmax(means[:, :n]))
        if not doc_vectors:
            return sentiments, feats
        vecs = np.zeros((len(docs), means.shape[1] - n), np.float32)
        weight = np.zeros(len(docs), np.float32)
        for w, m in zip(windows, means):
            vecs[w.doc] += m[n:] * max(len(w.ids), 1)
            weight[w.doc] += max(len(w.ids), 1)
        return sentiments, feats, vecs / np.maximum(weight, 1)[:, None]

    def score_texts(self, texts: list[str]) -> list[Sentiment]:
        """Score clause-sized plain strings (already normalised), e.g. for aspects."""
        if not texts:
            return []
        enc = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        room = self.window - 2 - self._prefix_len
        windows = [Window(i, ids[:room]) for i, ids in enumerate(enc)]
        return self.postprocess(len(texts), windows, self.forward(windows))

