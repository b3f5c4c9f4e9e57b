"""Conversations: the learned conversation heads against today's summary (the customer's average sentiment over
their turns) on the test split of the team's labelled chats (training/conversation.py: held-out writing batches).

    python benchmarks/chat.py [--model NAME] [--no-cli]

Prints, for both systems: satisfaction 3-class macro-F1 and binary accuracy (satisfied vs dissatisfied
conversations: P(pos) > P(neg), the baseline's score > 0), F1 of resolved and escalation (the baseline calls a
conversation unresolved and escalated when the customer's average sentiment is negative), and conversations/s:
in process, and through `voc score --chat` on a CSV of the same conversations with one row per message (the
whole command, model loading included).
"""
from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.analyzer import Analyzer  # noqa: E402
from models.conversation import SATISFACTION  # noqa: E402
from training.conversation import as_turns, load_chats, satisfaction_metrics  # noqa: E402


def measure(rows, results) -> dict:
    gold = {k: np.array([r[k] for r in rows]) for k in ("resolved", "escalation")}
    sat = np.array([SATISFACTION.index(r["satisfaction"]) for r in rows])
    learned = np.array([[res.sentiment.probs[lab] for lab in SATISFACTION] for res in results])
    base = np.array([[res.chat.overall.probs[lab] for lab in SATISFACTION] for res in results])
    base_negative = base.argmax(1) == 0
    return {
        "learned": {**satisfaction_metrics(sat, learned),
                    "resolved_f1": round(f1_score(gold["resolved"], [r.conversation.resolved for r in results]), 4),
                    "escalation_f1": round(f1_score(gold["escalation"], [r.conversation.escalation.escalated for r in results]), 4)},
        "average_customer_sentiment": {**satisfaction_metrics(sat, base),
                                       "resolved_f1": round(f1_score(gold["resolved"], ~base_negative), 4),
                                       "escalation_f1": round(f1_score(gold["escalation"], base_negative), 4)},
    }


def message_csv(rows, path: Path) -> int:
    """The conversations as a chat back-end exports them: one row per message."""
    n = 0
    with path.open("w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f)
        w.writerow(["conversation_id", "sender", "time", "message"])
        for c, r in enumerate(rows):
            for t in r["turns"]:
                w.writerow([f"conv-{c}", t["role"], t.get("time", ""), t["text"]])
                n += 1
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="registered model (default: the serving model)")
    ap.add_argument("--no-cli", action="store_true", help="skip the `voc score --chat` run")
    args = ap.parse_args()
    rows = load_chats("test")
    analyzer = Analyzer.load(args.model)
    analyzer.warm_up()
    t = time.perf_counter()
    results = analyzer.analyze_chats([(str(i), as_turns(r)) for i, r in enumerate(rows)])
    in_process = len(rows) / (time.perf_counter() - t)
    out = {"test_conversations": len(rows), "batches": sorted({r["batch"] for r in rows}),
           "engine": analyzer.scorer.engine, **measure(rows, results),
           "in_process_conversations_per_s": round(in_process, 1)}
    for lang in ("zh", "en"):
        keep = [i for i, r in enumerate(rows) if r["lang"] == lang]
        out[f"by_lang_{lang}"] = measure([rows[i] for i in keep], [results[i] for i in keep])
    if not args.no_cli:
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "messages.csv"
            messages = message_csv(rows, src)
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "api.cli", "score", "--chat", str(src), "--conv-col", "conversation_id",
                            "--role-col", "sender", "--text-col", "message", "--time-col", "time", "-q",
                            "-o", str(Path(tmp) / "scored.csv")] + (["--model", args.model] if args.model else []),
                           check=True, cwd=Path(__file__).resolve().parent.parent)
            wall = time.perf_counter() - t
            out["voc_score_chat"] = {"messages": messages, "conversations": len(rows), "seconds": round(wall, 1),
                                     "conversations_per_s": round(len(rows) / wall, 1)}
    print(json.dumps(out, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
