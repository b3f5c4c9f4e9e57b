"""Validate team-written conversation files against data/corpus/CHAT_GUIDELINES.md.

Usage: python3 data/corpus/check_chats.py FILE [FILE ...]   (exit 1 when a row is wrong)
"""
from __future__ import annotations

import sys

import check
from check import ASPECTS, OVERALL

INDUSTRIES = {"ecommerce_presale", "ecommerce_after_sales", "food_delivery", "telecom", "banking", "travel"}
AGENT_ISSUES = {"rude", "dismissive", "scripted_non_answer", "unhelpful", "slow"}


def problems(row: dict) -> list[str]:
    out = []
    turns = row.get("turns")
    if not isinstance(turns, list) or not 2 <= len(turns) <= 20:
        return ["turns must be a list of 2-20 turns"]
    for k, t in enumerate(turns):
        if t.get("role") not in ("customer", "agent"):
            out.append(f"turn {k}: role {t.get('role')!r} is not customer/agent")
        if not isinstance(t.get("text"), str) or not t["text"].strip():
            out.append(f"turn {k}: empty text")
    if row.get("lang") not in ("zh", "en"):
        out.append(f"lang {row.get('lang')!r}")
    if row.get("industry") not in INDUSTRIES:
        out.append(f"industry {row.get('industry')!r} unknown")
    if row.get("satisfaction") not in OVERALL:
        out.append(f"satisfaction {row.get('satisfaction')!r} unknown")
    for key in ("resolved", "escalation"):
        if not isinstance(row.get(key), bool):
            out.append(f"{key} must be true or false")
    texts = [t.get("text", "") for t in turns]
    for a in row.get("aspects", []):
        if a.get("aspect") not in ASPECTS or a.get("label") not in OVERALL:
            out.append(f"aspect {a} unknown")
        if not any(a.get("evidence", "\0") in t for t in texts):
            out.append(f"evidence {a.get('evidence')!r} is not a substring of any turn")
    for issue in row.get("agent_issues", []):
        if issue not in AGENT_ISSUES:
            out.append(f"agent issue {issue!r} unknown")
    tt = row.get("turning_turn")
    if tt is not None and not (isinstance(tt, int) and 0 <= tt < len(turns)):
        out.append(f"turning_turn {tt!r} is not a turn index")
    return out


if __name__ == "__main__":
    sys.exit(check.main(sys.argv[1:], problems))
