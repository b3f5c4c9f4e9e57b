"""Customer-service chat logs → turns with a role (customer / agent / system).

Accepted shapes:
1. one turn per line with a speaker prefix: ``客服：…``, ``顾客:…``, ``买家：…``, ``Customer: …``, ``Agent: …``,
   or in brackets, ``[Customer] …``, ``[客服] …`` (continuation lines belong to the previous turn);
2. back-end exports with a header line per message, ``买家 2024-05-01 10:00:01`` or
   ``客服小美 2024/05/01 10:00``, then the message on the following line(s);
3. 千牛 lines ``tb_8823(2024-05-03 14:20:11): …`` and WeChat-style lines ``[2024-05-04 20:01] 王女士: …``;
4. a JSON list of turns ``[{"role": ..., "text": ..., "time": ...}]`` (as a string or a parsed list).

Speakers whose names say no role (nicknames, 王女士) get one from a mapping the caller gives (``roles``) or by
inference (`infer_roles`); a helpdesk export's ``user``/``system`` pair reads as customer/agent. Tables with one row
per message are grouped into transcripts by nlp.files.group_messages.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from nlp.document import TextError

ROLE_WORDS = {
    "customer": ["顾客", "客户", "买家", "用户", "会员", "customer", "buyer", "user", "client", "me"],
    "agent": ["客服", "卖家", "商家", "店家", "售后", "小二", "agent", "seller", "support", "staff", "assistant", "service",
              "rep", "helpdesk", "help desk", "operator"],
    "system": ["系统", "system", "bot", "机器人"],
}
ROLES = ("customer", "agent", "system")
ACCEPTED = ("lines with a speaker prefix ('客服：…', '顾客:…', 'Customer: …', 'helpdesk: …', '[Customer] …'); "
            "千牛 lines 'tb_xxx(2024-05-03 14:20:11): …'; WeChat-style lines '[2024-05-04 20:01] 王女士: …'; "
            "header lines '买家 2024-05-01 10:00:01' followed by the message; "
            "a JSON list of {\"role\", \"text\", \"time\"} objects; "
            "or, in a table, one row per message grouped by a conversation column (voc score --chat --conv-col)")
_ROLE_ALT = "|".join(sorted((re.escape(w) for ws in ROLE_WORDS.values() for w in ws), key=len, reverse=True))
_TIME = r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}[ T]\d{1,2}:\d{2}(?::\d{2})?"
PREFIX_LINE = re.compile(rf"^\s*(?:\[?(?P<time>{_TIME})\]?\s*)?"
                         rf"(?P<who>(?:{_ROLE_ALT})[^\s:：]{{0,12}})\s*[:：]\s*(?P<text>.*)$", re.I)
BRACKET_LINE = re.compile(rf"^\s*\[(?P<who>(?:{_ROLE_ALT})[^\]\s:：]{{0,12}})\]\s*[:：]?\s*(?P<text>.*)$", re.I)
# 千牛 (Taobao's seller client): "tb_8823(2024-05-03 14:20:11):" then the message on the same or the next lines
QIANNIU_LINE = re.compile(rf"^\s*(?P<who>[^\s(（:：\[\]]{{1,30}})\s*[(（](?P<time>{_TIME})[)）]\s*[:：]?\s*(?P<text>.*)$")
# WeChat-style: "[2024-05-04 20:01] 王女士: …" (or the time alone, "[20:01]")
WECHAT_LINE = re.compile(rf"^\s*\[(?P<time>{_TIME}|\d{{1,2}}:\d{{2}}(?::\d{{2}})?)\]\s*(?P<who>[^:：\]]{{1,24}}?)\s*[:：]\s*(?P<text>.*)$")
_HEADER_TIME = r"\d{4}[-/]\d{1,2}[-/]\d{1,2}\s+\d{1,2}:\d{2}(?::\d{2})?"
HEADER_LINE = re.compile(rf"^\s*(?P<who>(?:{_ROLE_ALT})[^\s:：]{{0,12}}|[^\s:：]{{1,20}})\s+"
                         rf"(?P<time>{_HEADER_TIME})\s*$", re.I)
LINE_SHAPES = (QIANNIU_LINE, WECHAT_LINE, PREFIX_LINE, BRACKET_LINE)

# An agent greets first with 亲/您好 or offers help; a customer asks. Used only for speakers whose name says no role.
AGENT_GREETING = re.compile(r"^\s*(?:亲亲?|您好|你好[,，!！~～ ]*(?:这里|这边|我是)|欢迎|很高兴为您|hello,? (?:this is|my name)|"
                            r"hi,? (?:this is|i'm|i am)|thank you for contacting|thanks for contacting)|有什么可以帮|"
                            r"how (?:can|may) i help", re.I)
QUESTION = re.compile(r"[?？]\s*$|吗\s*$")


class ChatFormatError(TextError):
    code = "unknown_chat_format"


@dataclass
class Turn:
    role: str  # customer | agent | system
    text: str
    speaker: str = ""
    time: str | None = None


def role_of(speaker: str, roles: dict[str, str] | None = None) -> str | None:
    """The role a speaker's name says: the caller's mapping first (`roles`, by name, case-insensitive), then the
    role words (客服…, buyer…, helpdesk…)."""
    s = speaker.strip().lower()
    if roles and s in roles:
        return roles[s]
    for role, words in ROLE_WORDS.items():
        if any(s.startswith(w) for w in words):
            return role
    return None


def parse_roles(spec: str | dict | None) -> dict[str, str]:
    """A role mapping, 'helpdesk=agent,user=customer' or a dict, as {lower-case name: role}."""
    if not spec:
        return {}
    pairs = spec.items() if isinstance(spec, dict) else (p.split("=", 1) for p in spec.split(",") if p.strip())
    out = {}
    for pair in pairs:
        if len(pair) != 2 or pair[1].strip().lower() not in ROLES:
            raise ChatFormatError(f"role mapping {'='.join(pair)!r}: write NAME=ROLE with ROLE one of {', '.join(ROLES)} "
                                  "(e.g. 'helpdesk=agent,user=customer')")
        out[pair[0].strip().lower()] = pair[1].strip().lower()
    return out


def _from_json(items, roles=None) -> list[Turn]:
    turns = []
    for i, it in enumerate(items):
        if not isinstance(it, dict) or not isinstance(it.get("text"), str):
            raise ChatFormatError(f"turn {i}: each turn must be an object with a string 'text'. Accepted: {ACCEPTED}")
        speaker = str(it.get("role") or it.get("speaker") or "")
        role = role_of(speaker, roles)
        if role is None:
            raise ChatFormatError(f"turn {i}: unknown role {speaker!r}; use customer, agent or system "
                                  "(or map it: --roles 'NAME=agent')")
        turns.append(Turn(role, it["text"], speaker, None if it.get("time") is None else str(it.get("time"))))
    return turns


def parse_chat(log, roles: dict[str, str] | str | None = None) -> list[Turn]:
    """Parse a transcript (string or list of turn objects); raise ChatFormatError on an unknown shape.
    `roles`: speaker name → role, for exports whose names say no role (parse_roles)."""
    roles = parse_roles(roles)
    if isinstance(log, list):
        turns = _from_json(log, roles)
    elif isinstance(log, str) and log.lstrip().startswith("[") and not WECHAT_LINE.match(log.lstrip().split("\n", 1)[0]):
        try:
            turns = _from_json(json.loads(log), roles)
        except json.JSONDecodeError as e:
            try:  # "[Customer] …" lines start with a bracket too
                turns = _from_lines(log.splitlines(), roles)
            except ChatFormatError:
                raise ChatFormatError(f"looks like JSON but does not parse ({e}). Accepted: {ACCEPTED}") from e
    elif isinstance(log, str):
        turns = _from_lines(log.splitlines(), roles)
    else:
        raise ChatFormatError(f"a chat log must be text or a list of turns, not {type(log).__name__}")
    turns = [t for t in turns if t.text.strip()]
    if not turns:
        raise ChatFormatError(f"no turns found. Accepted: {ACCEPTED}")
    return system_as_agent(turns)


def system_as_agent(turns: list[Turn]) -> list[Turn]:
    """Helpdesk exports label the two parties `user` and `system`: where no turn is an agent's, `system` is."""
    if any(t.role == "customer" for t in turns) and not any(t.role == "agent" for t in turns):
        for t in turns:
            if t.role == "system":
                t.role = "agent"
    return turns


def infer_roles(turns: list[Turn], unknown: set[str]) -> None:
    """Roles for speakers whose names say none (nicknames, 王女士, 小美): when the other party's role is known, the
    opposite one; otherwise the agent is the speaker who greets with 亲/您好 or offers help and answers questions,
    the customer the one who asks, and, all else equal, the first to write."""
    known = {t.role for t in turns if t.speaker not in unknown and t.role in ("customer", "agent")}
    if len(unknown) == 1 and len(known) == 1:
        role = "agent" if known == {"customer"} else "customer"
        for t in turns:
            if t.speaker in unknown:
                t.role = role
        return
    score = {s: 0.0 for s in unknown}
    first = {}
    for k, t in enumerate(turns):
        if t.speaker not in unknown:
            continue
        first.setdefault(t.speaker, k)
        score[t.speaker] += 2 * bool(AGENT_GREETING.search(t.text[:40])) - bool(QUESTION.search(t.text))
        if k and turns[k - 1].speaker != t.speaker and QUESTION.search(turns[k - 1].text):
            score[t.speaker] += 1  # answers a question
    ranked = sorted(unknown, key=lambda s: (-score[s], -first[s]))
    agents = {ranked[0]} if "agent" not in known else set()
    for t in turns:
        if t.speaker in unknown:
            t.role = "agent" if t.speaker in agents else "customer"


def _from_lines(lines: list[str], roles=None) -> list[Turn]:
    turns: list[Turn] = []
    recognised = False
    unknown: set[str] = set()
    for line in lines:
        if not line.strip():
            continue
        m = next((m for shape in LINE_SHAPES if (m := shape.match(line))), None)
        if m:
            who = m["who"].strip()
            role = role_of(who, roles)
            if role is None:
                unknown.add(who)
            turns.append(Turn(role or "customer", m["text"].strip(), who, m.groupdict().get("time")))
            recognised = True
            continue
        h = HEADER_LINE.match(line)
        if h:
            role = role_of(h["who"], roles)
            if role is None:
                unknown.add(h["who"])
            turns.append(Turn(role or "customer", "", h["who"], h["time"]))
            recognised = True
            continue
        if not turns:
            raise ChatFormatError(f"first line {line.strip()[:40]!r} names no speaker. Accepted: {ACCEPTED}")
        turns[-1].text = (turns[-1].text + "\n" + line.strip()).strip()
    if not recognised:
        raise ChatFormatError(f"no speaker found. Accepted: {ACCEPTED}")
    if unknown:
        infer_roles([t for t in turns if t.text.strip()], unknown)
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
