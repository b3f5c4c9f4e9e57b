"""Precision and recall of each trust flag on team-written labelled sets, next to a keyword baseline.

    python benchmarks/flags.py [--model NAME] [--calibrate]

- sarcasm, templated/incentivised: the test split of the team-written corpus (training/corpus.py; tags `sarcasm`
  and `templated`; platform placeholders, which the analyzer marks itself, left out);
- rating_mismatch and incentivised: benchmarks/data/flags_rated.jsonl, hand-written reviews with a star rating and
  a human judgment (`mismatch`: the text is clearly opposite the stars; `incentivised`: the review says it was
  paid or asked for). Its rows split in two by a hash of the text: `--calibrate` prints the mismatch threshold's
  precision/recall on the calibration half; the numbers below are on the other half and on all rows.

Also prints the time of one analysis pass with and without the flag heads (alternating runs).
"""
import argparse
import json
import re
import sys
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RATED = ROOT / "benchmarks" / "data" / "flags_rated.jsonl"
# baselines: what a keyword list catches
SARCASM_WORDS = re.compile(r"呵呵|真是太(好|棒|快)|真棒啊|真快啊|谢谢你们|「|」|yeah right|oh great|thanks a lot|just great|"
                           r"\blol\b|love how|what a surprise|/s\b|so good it", re.I)
TEMPLATE_WORDS = re.compile(r"返现|凑字数|好评|默认|free product|in exchange|advance copy|good product\. good", re.I)
INCENTIVE_WORDS = re.compile(r"返现|返红包|好评.{0,4}送|free|in exchange|gift card|refund for", re.I)


def pr(pred, gold) -> str:
    tp = sum(p and g for p, g in zip(pred, gold))
    p, r = tp / max(sum(pred), 1), tp / max(sum(gold), 1)
    return f"P {p:.3f} R {r:.3f} F1 {2 * p * r / max(p + r, 1e-9):.3f} (flagged {sum(pred)}, true {sum(gold)}, n {len(gold)})"


def kinds(res) -> set[str]:
    return {f.kind for f in res.flags or []}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model")
    ap.add_argument("--calibrate", action="store_true", help="print rating_mismatch P/R per threshold on the calibration half")
    args = ap.parse_args()
    from models import flags as flag_rules
    from models.analyzer import Analyzer
    from models.flags import rating_mismatch
    from models.schema import Analysis
    from nlp.document import is_placeholder_text
    from training.corpus import load_corpus

    analyzer = Analyzer.load(args.model)
    print(f"model {analyzer.model_name}, engine {analyzer.scorer.engine}, flag heads: "
          f"{analyzer.flag_heads.info['thresholds'] if analyzer.flag_heads else None}")

    test = [r for r in load_corpus("test") if not is_placeholder_text(r["text"])]
    res = analyzer.analyze([(str(i), r["text"]) for i, r in enumerate(test)])
    got = [kinds(x) if isinstance(x, Analysis) else set() for x in res]
    sarcasm = ["sarcasm" in r.get("tags", []) for r in test]
    templated = ["templated" in r.get("tags", []) for r in test]
    print(f"\n== corpus test split ({len(test)} reviews, placeholders left out) ==")
    print(f"sarcasm           learned head : {pr(['sarcasm' in k for k in got], sarcasm)}")
    print(f"sarcasm           keywords     : {pr([bool(SARCASM_WORDS.search(r['text'])) for r in test], sarcasm)}")
    print(f"templated|incent. head+phrases : {pr([bool(k & {'templated', 'incentivised'}) for k in got], templated)}")
    print(f"templated|incent. phrases only : {pr(['incentivised' in k for k in got], templated)}")
    print(f"templated|incent. keywords     : {pr([bool(TEMPLATE_WORDS.search(r['text'])) for r in test], templated)}")

    rows = [json.loads(line) for line in RATED.read_text(encoding="utf-8").splitlines() if line.strip()]
    res = analyzer.analyze([(str(i), r["text"]) for i, r in enumerate(rows)])
    half = [zlib.crc32(r["text"].encode("utf-8")) % 2 for r in rows]  # 0: calibration, 1: measured
    if args.calibrate:
        print("\n== rating_mismatch threshold on the calibration half ==")
        keep = flag_rules.MISMATCH_P
        for t in (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95):
            flag_rules.MISMATCH_P = t
            cal = [i for i in range(len(rows)) if half[i] == 0]
            print(f"P(opposite) ≥ {t:.2f}: " + pr([rating_mismatch(res[i], rows[i]["rating"]) is not None for i in cal],
                                                  [rows[i]["mismatch"] for i in cal]))
        flag_rules.MISMATCH_P = keep
    print(f"\n== hand-written rated reviews ({RATED.name}: {len(rows)} rows) ==")
    for name, idx in (("measured half", [i for i in range(len(rows)) if half[i] == 1]), ("all rows", range(len(rows)))):
        gold = [rows[i]["mismatch"] for i in idx]
        ours = [rating_mismatch(res[i], rows[i]["rating"]) is not None for i in idx]
        base = [(rows[i]["rating"] >= 4 and res[i].sentiment.label == "negative")
                or (rows[i]["rating"] <= 2 and res[i].sentiment.label == "positive") for i in idx]
        print(f"rating_mismatch ({name}) flag            : {pr(ours, gold)}")
        print(f"rating_mismatch ({name}) label vs stars  : {pr(base, gold)}")
    gold = [r["incentivised"] for r in rows]
    print(f"incentivised (all rows) phrases          : {pr(['incentivised' in kinds(x) for x in res], gold)}")
    print(f"incentivised (all rows) keywords         : {pr([bool(INCENTIVE_WORDS.search(r['text'])) for r in rows], gold)}")

    # the flag heads' cost: the same pass with and without them, alternating
    heads, texts = analyzer.flag_heads, [(str(i), r["text"]) for i, r in enumerate(test)]
    spent = {"with": 0.0, "without": 0.0}
    for _ in range(2):
        for name, h in (("without", None), ("with", heads)):
            analyzer.flag_heads = h
            t = time.perf_counter()
            analyzer.analyze(texts)
            spent[name] += time.perf_counter() - t
    analyzer.flag_heads = heads
    print(f"\nanalysis of {len(texts)} reviews ×2: {spent['without']:.1f}s without flag heads, {spent['with']:.1f}s with")


if __name__ == "__main__":
    main()
