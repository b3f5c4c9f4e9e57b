"""Fine-tuning loop: frozen word embeddings, length-bucketed dynamic padding, class
weights, dev-set early stopping, fixed seeds, tqdm progress, metrics file."""
from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from models.classifier import LABELS, SentimentNet
from models.encoder import encode_truncated
from models.metrics import classification_report
from nlp.normalize import normalize_text
from training.data import Example


@dataclass
class TrainConfig:
    epochs: float = 1.0
    batch_size: int = 32
    lr: float = 5e-5
    head_lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: float = 0.06
    max_len: int = 128
    eval_every: int = 200  # steps
    patience: int = 3  # evaluations without dev macro-F1 gain
    max_steps: int | None = None
    max_minutes: float | None = None
    seed: int = 13
    prefix: str = "query: "
    threads: int | None = None
    freeze_layers: int = 0  # keep the lowest N encoder layers frozen (helps cross-lingual transfer)


def set_seeds(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def encode(tokenizer, texts: list[str], prefix: str, max_len: int) -> list[list[int]]:
    return encode_truncated(tokenizer, [prefix + normalize_text(t) for t in texts], max_len)


def pad_batch(seqs: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    n = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), n), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), n), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
        mask[i, :len(s)] = 1
    return ids, mask


def bucketed_batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffle, sort within windows of 50 batches by length, batch, shuffle batches: little padding, still random."""
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    window = batch_size * 50
    batches = []
    for w in range(0, len(idx), window):
        chunk = sorted(idx[w:w + window], key=lambda i: lengths[i])
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


@torch.inference_mode()
def predict_ids(net: SentimentNet, seqs: list[list[int]], pad_id: int, batch_size: int = 64) -> np.ndarray:
    net.eval()
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    probs = np.zeros((len(seqs), len(LABELS)), dtype=np.float32)
    for b in range(0, len(order), batch_size):
        chunk = order[b:b + batch_size]
        ids, mask = pad_batch([seqs[i] for i in chunk], pad_id)
        probs[chunk] = torch.softmax(net(ids, mask).float(), -1).numpy()
    return probs


def fine_tune(net: SentimentNet, tokenizer, train: list[Example], dev: list[Example], cfg: TrainConfig,
              log=print) -> dict:
    """Train `net` in place; returns metrics of the best dev checkpoint (which `net` ends with)."""
    set_seeds(cfg.seed)
    net.freeze_embeddings()
    for layer in net.encoder.encoder.layer[:cfg.freeze_layers]:
        layer.requires_grad_(False)
    pad_id = tokenizer.pad_token_id
    label_id = {lab: i for i, lab in enumerate(LABELS)}
    x_train = encode(tokenizer, [e.text for e in train], cfg.prefix, cfg.max_len)
    y_train = torch.tensor([label_id[e.label] for e in train])
    x_dev = encode(tokenizer, [e.text for e in dev], cfg.prefix, cfg.max_len)

    def batch_loss(batch: list[int], doc_loss) -> tuple[torch.Tensor, dict]:
        ids, mask = pad_batch([x_train[i] for i in batch], pad_id)
        loss = doc_loss(net(ids, mask), y_train[batch])
        return loss, {"loss": loss.item()}
    metrics = run_fine_tuning(net, y_train, [len(s) for s in x_train], x_dev, [e.label for e in dev], pad_id, cfg,
                              batch_loss, log=log)
    return {**metrics, "train_size": len(train), "dev_size": len(dev)}


def run_fine_tuning(net: SentimentNet, y_train: torch.Tensor, lengths: list[int], dev_ids: list[list[int]],
                    dev_gold: list[str], pad_id: int, cfg: TrainConfig, batch_loss, extra_params=(), log=print,
                    desc: str = "fine-tuning") -> dict:
    """The loop every fine-tuning shares: AdamW (encoder at `lr`, heads and `extra_params` at `head_lr`), linear
    warm-up and decay, length-bucketed batches, dev macro-F1 every `eval_every` steps with early stopping, and the
    best checkpoint restored at the end. `batch_loss(indices, doc_loss)` returns a batch's loss (given the
    class-weighted document loss) and what the progress bar shows."""
    torch.set_num_threads(cfg.threads or os.cpu_count() or 1)
    counts = np.bincount(y_train.numpy(), minlength=len(LABELS)).astype(np.float64)
    weights = np.where(counts > 0, counts.sum() / (len(LABELS) * np.maximum(counts, 1)), 0.0)
    doc_loss = torch.nn.CrossEntropyLoss(weight=torch.tensor(weights, dtype=torch.float32))

    head_params = list(net.head.parameters()) + list(extra_params)
    enc_params = [p for p in net.encoder.parameters() if p.requires_grad]
    decay = lambda p: cfg.weight_decay if p.ndim > 1 else 0.0  # noqa: E731
    groups = [{"params": [p], "lr": cfg.lr, "weight_decay": decay(p)} for p in enc_params]
    groups.append({"params": head_params, "lr": cfg.head_lr, "weight_decay": 0.0})
    opt = torch.optim.AdamW(groups)

    rng = random.Random(cfg.seed)
    total = max(1, int(math.ceil(len(lengths) / cfg.batch_size) * cfg.epochs))
    if cfg.max_steps:
        total = min(total, cfg.max_steps)
    warm = max(1, int(total * cfg.warmup))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))

    best = {"macro_f1": -1.0}
    best_state, bad_evals, step, history = None, 0, 0, []
    started = time.time()
    bar = tqdm(total=total, desc=desc, unit="step", dynamic_ncols=True)

    def evaluate():
        nonlocal best, best_state, bad_evals
        probs = predict_ids(net, dev_ids, pad_id)
        rep = classification_report(dev_gold, [LABELS[i] for i in probs.argmax(1)])
        history.append({"step": step, **{k: rep[k] for k in ("accuracy", "macro_f1")}})
        log(f"step {step}: dev accuracy {rep['accuracy']:.4f} macro-F1 {rep['macro_f1']:.4f}")
        if rep["macro_f1"] > best["macro_f1"]:
            best, bad_evals = {**rep, "step": step}, 0
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()
                          if not k.endswith("word_embeddings.weight")}
        else:
            bad_evals += 1

    stop = False
    while not stop:
        for batch in bucketed_batches(lengths, cfg.batch_size, rng):
            net.train()
            loss, shown = batch_loss(batch, doc_loss)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(head_params + enc_params, 1.0)
            opt.step(); sched.step(); opt.zero_grad(set_to_none=True)
            step += 1
            bar.update(1)
            bar.set_postfix({k: f"{v:.3f}" for k, v in shown.items()})
            out_of_time = cfg.max_minutes and (time.time() - started) > cfg.max_minutes * 60
            if step % cfg.eval_every == 0 or step >= total or out_of_time:
                evaluate()
                if bad_evals >= cfg.patience or step >= total or out_of_time:
                    stop = True
                    break
    bar.close()
    if best_state is not None:
        net.load_state_dict(best_state, strict=False)
    net.eval()
    return {"dev": best, "history": history, "steps": step,
            "minutes": round((time.time() - started) / 60, 2), "config": asdict(cfg)}


def write_metrics(out_dir: Path, metrics: dict) -> None:
    (out_dir / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2))
