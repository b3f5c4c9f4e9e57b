"""Documents per second through the preprocessing layer (nlp.build_document), one core.

    python benchmarks/preprocess.py [--tokens]

--tokens also runs jieba tokenisation (needed by topics/aspects, not by sentiment).
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks._data import load  # noqa: E402
from nlp.document import build_document  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", action="store_true")
    args = ap.parse_args()
    for lang in ("zh", "en"):
        texts = [r["text"] for r in load(lang)]
        short = [t for t in texts if len(t) <= 200]
        for name, batch in (("all", texts), ("short (≤200 chars)", short)):
            build_document(batch[0]).tokens  # warm-up: jieba dictionary, OpenCC
            t = time.perf_counter()
            for text in batch:
                d = build_document(text)
                if args.tokens:
                    d.tokens
            dt = time.perf_counter() - t
            print(f"{lang} {name:>18}: {len(batch):5d} docs, median {statistics.median(map(len, batch)):.0f} chars, "
                  f"{len(batch) / dt:8.0f} docs/s{' (with tokens)' if args.tokens else ''}")


if __name__ == "__main__":
    main()
