"""Fast mode: a static-embedding student distilled from the fine-tuned transformer.

Following model2vec, every subword token of a pruned vocabulary gets one vector:
the fine-tuned encoder's mean-pooled output for that token alone, reduced by PCA
and weighted by SIF (rarer tokens weigh more). A text is the mean of its token
vectors; a linear head trained on the teacher's predictions labels it. There is
no attention at inference, so scoring is a tokenizer call and a gather-and-average:
thousands of rows per second on one core. The student lives in the model
directory as ``fast.safetensors``.

Texts without Chinese characters are read as whole words instead of subword pieces
(each word's vector is the teacher's output for that word alone, as model2vec does):
a regex and a dict lookup are ~8× faster than the SentencePiece tokenizer on long
English reviews, and a word is a better unit of meaning than its fragments.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from functools import cached_property
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

from models.encoder import base_model_dir, ensure_base_model, fast_normalizer
from models.paths import read_meta
from models.schema import LABELS, Sentiment, sentiment_from_probs
from nlp.document import CJK, Document

FAST_FILE = "fast.safetensors"
UNK_ID = 3  # XLM-R's <unk>
# words (with inner apostrophes: don't, i've) and the two punctuation marks that carry feeling
WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[!?]")


def int8_rows(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A vector table as int8 with one fp16 scale per row: half the size of fp16, so the shipped student
    (two 70k × 128 tables) stays ~19 MB. (models.classifier.quantize_rows does the same for torch state
    dicts; fast mode stays torch-free.)"""
    scale = np.maximum(np.abs(table).max(1), 1e-8) / 127
    return np.round(table / scale[:, None]).astype(np.int8), scale.astype(np.float16)


def from_int8_rows(t: dict, name: str) -> np.ndarray | None:
    if name not in t:
        return None
    if name + "_scale" not in t:  # a student saved with fp16 tables
        return t[name]
    # one pass from int8: the same numbers as astype then multiply, in 0.01 s of start-up instead of 0.14–0.19 s
    return np.multiply(t[name], t[name + "_scale"].astype(np.float32)[:, None], dtype=np.float32)


def words_of(text: str) -> list[str]:
    return WORD.findall(text.lower())


def encode_words(words: list[str]) -> bytes:
    return "\n".join(words).encode("utf-8")


def decode_words(blob: np.ndarray) -> list[str]:
    return bytes(blob).decode("utf-8").split("\n") if len(blob) else []


class TextRows:
    """Text → rows of the student's vector table: subword pieces for Chinese and mixed texts,
    whole words for the rest (unknown words are skipped; pruned pieces map to the zero row)."""

    def __init__(self, load_tokenizer, row_of: np.ndarray, word_rows: dict[str, int] | None, normalize=None):
        # the tokenizer is loaded on the first text that needs it: an English-only file never pays the
        # ~0.5 s of reading the 250k-piece tokenizer.json
        self.load_tokenizer, self.row_of, self.word_rows, self.normalize = load_tokenizer, row_of, word_rows, normalize

    @cached_property
    def tokenizer(self):
        return self.load_tokenizer()

    def reads_pieces(self, text: str) -> bool:
        """Chinese and mixed texts are read as pieces; a long English review with a stray Chinese word (nlp
        turns ":)" into 开心) stays with words, which spares loading the 250k-piece tokenizer."""
        if not self.word_rows:
            return True  # a student without a word table
        if not CJK.search(text):
            return False
        return len(CJK.findall(text)) * 20 >= len(text)

    def __call__(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """All texts' rows, concatenated, and where each text's rows start."""
        parts: list[np.ndarray | None] = [None] * len(texts)
        by_pieces = [i for i, t in enumerate(texts) if self.reads_pieces(t)]
        if by_pieces:
            piece_texts = [texts[i] for i in by_pieces]
            if self.normalize is not None:
                piece_texts = [self.normalize(t) for t in piece_texts]
            for i, enc in zip(by_pieces, self.tokenizer.encode_batch(piece_texts, add_special_tokens=False)):
                parts[i] = self.row_of[np.asarray(enc.ids, dtype=np.int64)]
        if len(by_pieces) < len(texts):
            get = self.word_rows.get
            for i, t in enumerate(texts):
                if parts[i] is None:
                    parts[i] = np.array([r for w in words_of(t) if (r := get(w)) is not None], dtype=np.int64)
        lengths = np.fromiter((len(x) for x in parts), dtype=np.int64, count=len(parts))
        flat = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        return flat, np.concatenate([[0], np.cumsum(lengths)])[:-1].astype(np.int64)


def adjacent_pairs(flat: np.ndarray, starts: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Neighbouring tokens within each text as keys (left row × n_rows + right row), and each pair's text."""
    if len(flat) < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    text_of = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(flat))))
    same = text_of[:-1] == text_of[1:]
    return (flat[:-1] * n_rows + flat[1:])[same], text_of[:-1][same]


def find_pairs(pair_keys: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each key sits in the sorted `pair_keys`, and whether it is there at all."""
    if not len(pair_keys):
        return np.zeros(len(keys), np.int64), np.zeros(len(keys), bool)
    at = np.minimum(np.searchsorted(pair_keys, keys), len(pair_keys) - 1)
    return at, pair_keys[at] == keys


def pruned_tokenizer(tokenizer_file: Path, keep: np.ndarray) -> Path:
    """The encoder's tokenizer with only the `keep` pieces, written once next to it.

    Loading the full 250k-piece tokenizer.json takes 0.75 s, half of a fast `voc score` of 8,000 Chinese
    reviews; the student's ~41k pieces load in a fraction. Segmentation is unchanged wherever the full
    vocabulary's best (Viterbi) segmentation uses only kept pieces, which holds for every text the student was
    distilled on (all its pieces are kept); elsewhere a piece the student has no vector for is read as
    its known sub-pieces instead of the zero vector. Piece ids become positions in `keep`."""
    stat = tokenizer_file.stat()  # a rebuilt base tokenizer gets new pruned copies
    digest = hashlib.sha256(keep.astype(np.int64).tobytes() + f"{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    out = tokenizer_file.with_name(f"tokenizer-fast-{digest}.json")
    if not out.exists():
        spec = json.loads(tokenizer_file.read_text(encoding="utf-8"))
        vocab = spec["model"]["vocab"]
        position = {int(i): k for k, i in enumerate(keep)}
        spec["model"]["vocab"] = [vocab[i] for i in keep]
        spec["model"]["unk_id"] = position[int(spec["model"]["unk_id"])]
        spec["added_tokens"] = [dict(a, id=position[a["id"]]) for a in spec["added_tokens"] if a["id"] in position]
        spec["post_processor"] = None  # fast mode adds no special tokens
        tmp = out.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, out)
    return out


class FastScorer:
    """The fast-mode scorer (models.scorer.Scorer): no transformer, so no clause features (`heads` is None) and no
    network to wait for; aspects come from similarity on its own static vectors (`aspect_embed`)."""

    heads = None
    net = None

    def __init__(self, load_tokenizer, vectors: np.ndarray, row_of: np.ndarray, coef: np.ndarray, intercept: np.ndarray,
                 meta: dict, labels=LABELS, aspect_vectors: np.ndarray | None = None, normalize=None,
                 words: list[str] | None = None, pairs: tuple[np.ndarray, np.ndarray] | None = None):
        self.aspect_vectors = None if aspect_vectors is None else aspect_vectors.astype(np.float32, copy=False)
        # vectors: (rows + 1, dim): subword pieces, then words, then the zero row for unknown tokens
        first_word = len(vectors) - 1 - len(words or [])
        word_rows = {w: first_word + i for i, w in enumerate(words)} if words else None
        # `normalize` is set when the tokenizer's own normalizer was replaced by this faster equivalent
        self._rows = TextRows(load_tokenizer, row_of, word_rows, normalize)
        self.coef, self.intercept = coef.astype(np.float32), intercept.astype(np.float32)
        # The head is linear, so the mean of token vectors times coef equals the mean of per-token logits:
        # scoring gathers 3 numbers per token instead of a whole vector (8,000 reviews: 0.02 s instead of 0.3 s).
        self.token_logits = vectors.astype(np.float32, copy=False) @ self.coef.T
        # Pairs of neighbouring tokens (不+好, "not good") add their own logits, as fastText's bigrams do: a mean of
        # single tokens cannot see negation. Sorted keys, looked up with searchsorted.
        self.pair_keys, self.pair_logits = pairs if pairs is not None else (None, None)
        self.labels = tuple(labels)
        self.meta = meta
        self.name = meta.get("name", "voc-sentiment") + "+fast"
        self.engine = "fast"  # static vectors, no transformer

    @classmethod
    def load(cls, model_dir: Path) -> "FastScorer":
        path = Path(model_dir) / FAST_FILE
        if not path.exists():
            raise FileNotFoundError(f"{model_dir} has no fast-mode student ({FAST_FILE}); build it with "
                                    f"`python -m training.distill {model_dir}`")
        t = load_file(str(path))
        meta = read_meta(model_dir)
        base = base_model_dir()
        if not (base / "voc_converter.json").exists():
            base = ensure_base_model()  # first use only: needs transformers; later runs stay torch-free
        normalize = fast_normalizer(base / "tokenizer.json")  # same token ids, half the tokenizer time

        vectors = from_int8_rows(t, "vectors")
        zero_row = len(vectors) - 1
        # the student's pieces (sorted: piece k has row k); a student of the older format stores the whole id → row map
        pieces = t["pieces"].astype(np.int64) if "pieces" in t else np.flatnonzero(t["row_of"] != zero_row)
        keep = np.union1d(pieces, [UNK_ID])
        rows_of_kept = np.where(np.isin(keep, pieces), np.searchsorted(pieces, keep), zero_row)

        def tokenizer():
            tok = Tokenizer.from_file(str(pruned_tokenizer(base / "tokenizer.json", keep)))
            if normalize is not None:
                tok.normalizer = None
            return tok
        words = decode_words(t["words"]) if "words" in t else None  # a student without words reads pieces only
        pairs = (t["pair_keys"], t["pair_logits"].astype(np.float32)) if "pair_keys" in t else None  # optional in a student
        return cls(tokenizer, vectors, rows_of_kept, t["coef"], t["intercept"],
                   meta, meta.get("labels", LABELS), from_int8_rows(t, "aspect_vectors"), normalize, words, pairs)

    def aspect_embed(self, texts: list[str]) -> np.ndarray:
        """Static vectors distilled from the base encoder: topical similarity for aspects in fast mode."""
        return self._mean_vectors(self._rows(texts), self.aspect_vectors)

    def aspect_embed_and_score(self, texts: list[str]) -> tuple[np.ndarray, list[Sentiment]]:
        """aspect_embed and score_texts of the same texts from one tokenisation (the tokenizer is a third of
        fast-mode time)."""
        rows = self._rows(texts)
        return self._mean_vectors(rows, self.aspect_vectors), self._sentiments(rows)

    @staticmethod
    def _mean_vectors(rows: tuple[np.ndarray, np.ndarray], table: np.ndarray) -> np.ndarray:
        """Mean token vector per text (zero for a text without tokens); numpy only, so fast mode does not
        import scipy (0.2 s of start-up)."""
        flat, starts = rows
        out = np.zeros((len(starts), table.shape[1]), np.float32)
        if len(flat):
            lengths = np.diff(np.append(starts, len(flat)))
            has = lengths > 0
            out[has] = np.add.reduceat(table[flat], starts[has], axis=0) / lengths[has, None]
        return out

    def _sentiments(self, rows: tuple[np.ndarray, np.ndarray]) -> list[Sentiment]:
        logits = self._mean_vectors(rows, self.token_logits) + self.intercept
        if self.pair_keys is not None:
            logits += self._pair_logits(rows)
        logits -= logits.max(1, keepdims=True)
        e = np.exp(logits)
        return [sentiment_from_probs(p, self.labels) for p in e / e.sum(1, keepdims=True)]

    def _pair_logits(self, rows: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """The summed logits of each text's known token pairs, divided by its token count (as in training)."""
        flat, starts = rows
        out = np.zeros((len(starts), len(self.labels)), np.float32)
        keys, text_of = adjacent_pairs(flat, starts, len(self.token_logits))
        at, hit = find_pairs(self.pair_keys, keys)
        for c in range(out.shape[1]):
            out[:, c] = np.bincount(text_of[hit], weights=self.pair_logits[at[hit], c], minlength=len(starts))
        return out / np.maximum(np.diff(np.append(starts, len(flat))), 1)[:, None]

    def score_texts(self, texts: list[str]) -> list[Sentiment]:
        if not texts:
            return []
        return self._sentiments(self._rows(texts))

    def score_docs(self, docs: list[Document]) -> list[Sentiment]:
        return self.score_texts([d.text for d in docs])

    def analyze_docs(self, docs: list[Document]):
        raise RuntimeError(f"model {self.name} outputs no clause features in fast mode; aspects come from models.aspects")
