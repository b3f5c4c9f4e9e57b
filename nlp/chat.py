"""Customer-service chat logs → turns with a role (customer / agent / system).

Accepted shapes:
1. one turn per line with a speaker prefix: ``客服：…``, ``顾客:…``, ``买家：…``, ``Customer: …``, ``Agent: …``,
   or in brackets, ``[Customer] …``, ``[客服] …`` (continuation lines belong to the previous turn);
2. back-end exports with a header line per message, ``买家 2024-05-01 10:00:01`` or
   ``客服小美 2024/05/01 10:00``, then the message on the following line(s);
3. a JSON list of turns ``[{"role": ..., "text": ..., "time": ...}]`` (as a string or a parsed list).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from nlp.document import TextError

ROLE_WORDS = {
    "customer": ["顾客", "客户", "买家", "用户", "会员", "customer", "buyer", "user", "client", "me"],
    "agent": ["客服", "卖家", "商家", "店家", "售后", "小二", "agent", "seller", "support", "staff", "assistant", "service", "rep"],
    "system": ["系统", "system", "bot", "机器人"],
}
ACCEPTED = ("lines with a speaker prefix ('客服：…', '顾客:…', '买家：…', 'Customer: …', 'Agent: …', '[Customer] …'); "
            "header lines '买家 2024-05-01 10:00:01' followed by the message; "
            "or a JSON list of {\"role\", \"text\", \"time\"} objects")
_ROLE_ALT = "|".join(sorted((w for ws in ROLE_WORDS.values() for w in ws), key=len, reverse=True))
PREFIX_LINE = re.compile(rf"^\s*(?:\[?(?P<time1>\d{{4}}[-/]\d{{1,2}}[-/]\d{{1,2}}[ T]\d{{1,2}}:\d{{2}}(?::\d{{2}})?)\]?\s*)?"
                         rf"(?P<who>(?:{_ROLE_ALT})[^\s:：]{{0,12}})\s*[:：]\s*(?P<text>.*)$", re.I)
BRACKET_LINE = re.compile(rf"^\s*\[(?P<who>(?:{_ROLE_ALT})[^\]\s:：]{{0,12}})\]\s*[:：]?\s*(?P<text>.*)$", re.I)
HEADER_LINE = re.compile(rf"^\s*(?P<who>(?:{_ROLE_ALT})[^\s:：]{{0,12}}|[^\s:：]{{1,20}})\s+"
                         r"(?P<time>\d{4}[-/]\d{1,2}[-/]\d{1,2}\s+\d{1,2}:\d{2}(?::\d{2})?)\s*$", re.I)


class ChatFormatError(TextError):
    code = "unknown_chat_format"


@dataclass
class Turn:
    role: str  # customer | agent | system
    text: str
    speaker: str = ""
    time: str | None = None


def role_of(speaker: str) -> str | None:
    s = speaker.strip().lower()
    for role, words in ROLE_WORDS.items():
        if any(s.startswith(w) for w in words):
            return role
    return None


def _from_json(items) -> list[Turn]:
    turns = []
    for i, it in enumerate(items):
        if not isinstance(it, dict) or not isinstance(it.get("text"), str):
            raise ChatFormatError(f"turn {i}: each turn must be an object with a string 'text'. Accepted: {ACCEPTED}")
        speaker = str(it.get("role") or it.get("speaker") or "")
        role = role_of(speaker)
        if role is None:
            raise ChatFormatError(f"turn {i}: unknown role {speaker!r}; use customer, agent or system")
        turns.append(Turn(role, it["text"], speaker, None if it.get("time") is None else str(it.get("time"))))
    return turns


def parse_chat(log) -> list[Turn]:
    """Parse a transcript (string or list of turn objects); raise ChatFormatError on an unknown shape."""
    if isinstance(log, list):
        turns = _from_json(log)
    elif isinstance(log, str) and log.lstrip().startswith("["):
        try:
            turns = _from_json(json.loads(log))
        except json.JSONDecodeError as e:
            try:  # "[Customer] …" lines start with a bracket too
                turns = _from_lines(log.splitlines())
            except ChatFormatError:
                raise ChatFormatError(f"looks like JSON but does not parse ({e}). Accepted: {ACCEPTED}") from e
    elif isinstance(log, str):
        turns = _from_lines(log.splitlines())
    else:
        raise ChatFormatError(f"a chat log must be text or a list of turns, not {type(log).__name__}")
    turns = [t for t in turns if t.text.strip()]
    if not turns:
        raise ChatFormatError(f"no turns found. Accepted: {ACCEPTED}")
    return turns


def _from_lines(lines: list[str]) -> list[Turn]:
    turns: list[Turn] = []
    recognised = False
    roles: dict[str, str] = {}  # each speaker keeps the role of their first message
    for line in lines:
        if not line.strip():
            continue
        m = PREFIX_LINE.match(line) or BRACKET_LINE.match(line)
        if m and role_of(m["who"]):
            turns.append(Turn(role_of(m["who"]), m["text"].strip(), m["who"], m.groupdict().get("time1")))
            recognised = True
            continue
        h = HEADER_LINE.match(line)
        if h:
            role = role_of(h["who"]) or roles.get(h["who"])
            if role is None:  # an unnamed role (nickname tb_8823, agent 小美): the first such speaker is the customer
                role = "agent" if any(t.role == "customer" for t in turns) else "customer"
            roles[h["who"]] = role
            turns.append(Turn(role, "", h["who"], h["time"]))
            recognised = True
            continue
        if not turns:
            raise ChatFormatError(f"first line {line.strip()[:40]!r} names no speaker. Accepted: {ACCEPTED}")
        turns[-1].text = (turns[-1].text + "\n" + line.strip()).strip()
    if not recognised:
        raise ChatFormatError(f"no speaker found. Accepted: {ACCEPTED}")
    return turns


# Greetings and acknowledgments that open a customer's turn carry no opinion, but sway a model trained on reviews:
# 你好 ("hello") holds 好 ("good"), and "你好，我的快递三天了还没到" scored +0.22 against −0.43 without it. The
# single-character ones (亲, 嗯) and 好的 only count when punctuation or a space follows (亲自, 好的东西 stay).
_SEP = r"[\s,，.。!！?？~～、]"
OPENER = re.compile(rf"^(?:\s*(?:(?:你好|您好|哈喽|在吗|在不在){_SEP}*|(?:好的|亲亲?|嗨|嗯+|哦+){_SEP}+"
                    rf"|(?:hi|hello|hey|ok|okay)\b{_SEP}*))+", re.I)


def opener_length(text: str) -> int:
    """How many leading characters of a chat turn are greetings or acknowledgments (0 when the turn is nothing
    else: "好的" alone is what the customer said)."""
    m = OPENER.match(text)
    return m.end() if m and text[m.end():].strip() else 0
