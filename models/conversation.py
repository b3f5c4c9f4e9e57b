"""Conversation-level judgements on a customer-service chat: satisfaction, resolved, escalation, customer effort
and agent-side quality, learned from the team's labelled conversations (data/corpus/chats, training/conversation.py).

Every turn is read once by the sentiment model (models.analyzer: one batched pass over all turns of all
conversations); a turn's vector is the mean of its clauses' features from that pass (the states the clause heads
read). On those:

- **turn heads** (multiple-instance: a conversation label is known, not which turn carries it): customer turns →
  P(escalation) and P(effort: a repeated question, "I already told you"); agent turns → P(rude, dismissive,
  scripted non-answer, unhelpful, slow). The turn that scores highest is the evidence quoted.
- **conversation heads** on pooled features (customer turns' mean/max/last vectors, the last agent turn, the
  customer's sentiment at the start and the end, the turn heads' maxima, turn counts, waits): satisfaction
  (3 classes), resolved, escalation, effort.

Satisfaction is the customer's state at the end as a CX analyst reads it, not their average mood: an angry
opening that ends "好的谢谢，解决了" is a satisfied conversation. All heads are standardised-logistic layers, numpy
only, stored beside the encoder (``conversation_heads.safetensors`` + ``.json``).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

HEADS_FILE = "conversation_heads.safetensors"
HEADS_META = "conversation_heads.json"

SATISFACTION = ("negative", "neutral", "positive")
AGENT_ISSUES = ("rude", "dismissive", "scripted_non_answer", "unhelpful", "slow")
CUSTOMER_SIGNALS = ("escalation", "effort")
LONG_WAIT_MIN = 10.0  # a customer left this long without an answer is an effort signal on its own


@dataclass
class TurnFacts:
    """What the model pass gives for one turn of a conversation."""
    role: str                    # customer | agent | system
    vec: np.ndarray | None       # mean clause features (None: nothing the model could read)
    probs: np.ndarray | None     # sentiment probabilities (negative, neutral, positive)
    minute: float | None = None  # minutes since the conversation's first timed turn


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-9)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def wait_before(turns: list[TurnFacts], i: int) -> float | None:
    """Minutes between turn i and the turn before it by the other party, when both are timed."""
    if turns[i].minute is None:
        return None
    for j in range(i - 1, -1, -1):
        if turns[j].role != turns[i].role and turns[j].role != "system":
            return None if turns[j].minute is None else max(turns[i].minute - turns[j].minute, 0.0)
    return None


def customer_turn_features(turns: list[TurnFacts], i: int, dim: int) -> np.ndarray:
    """The turn's vector, its sentiment, where it stands, and how close it is to an earlier customer turn (a question
    asked again reads like the first time it was asked)."""
    t = turns[i]
    earlier = [_unit(u.vec) for u in turns[:i] if u.role == "customer" and u.vec is not None]
    v = _unit(t.vec)
    repeat = max((float(v @ e) for e in earlier), default=0.0)
    pos = [i / max(len(turns) - 1, 1), float(i == len(turns) - 1), len(earlier) / 10]
    return np.concatenate([v, t.probs, [repeat], pos])


def agent_turn_features(turns: list[TurnFacts], i: int, dim: int) -> np.ndarray:
    """The agent turn's vector and sentiment, the customer turn it answers, and how long the customer waited."""
    t = turns[i]
    prev = next((turns[j] for j in range(i - 1, -1, -1) if turns[j].role == "customer" and turns[j].vec is not None), None)
    pv = _unit(prev.vec) if prev is not None else np.zeros(dim, np.float32)
    wait = wait_before(turns, i)
    extra = [math.log1p(wait) if wait is not None else 0.0, float(wait is not None), i / max(len(turns) - 1, 1)]
    return np.concatenate([_unit(t.vec), t.probs, pv, extra])


def conversation_features(turns: list[TurnFacts], cust_scores: np.ndarray, agent_scores: np.ndarray,
                          dim: int) -> np.ndarray:
    """Pooled features of a whole conversation; `cust_scores` (n_customer_turns, 2) and `agent_scores`
    (n_agent_turns, 5) are the turn heads' probabilities."""
    zero = np.zeros(dim, np.float32)
    cust = [t for t in turns if t.role == "customer" and t.vec is not None]
    agent = [t for t in turns if t.role == "agent" and t.vec is not None]
    cv = np.stack([_unit(t.vec) for t in cust]) if cust else np.zeros((1, dim), np.float32)
    cp = np.stack([t.probs for t in cust]) if cust else np.full((1, 3), 1 / 3, np.float32)
    score = cp[:, 2] - cp[:, 0]
    waits = [w for i in range(len(turns)) if turns[i].role == "agent" and (w := wait_before(turns, i)) is not None]
    last_is_customer = float(bool(turns) and turns[-1].role == "customer")
    struct = [len(turns) / 20, len(cust) / 10, len(agent) / 10, last_is_customer,
              float(bool(waits)), math.log1p(max(waits)) if waits else 0.0]
    pooled_scores = [cust_scores.max(0) if len(cust_scores) else np.zeros(len(CUSTOMER_SIGNALS)),
                     agent_scores.max(0) if len(agent_scores) else np.zeros(len(AGENT_ISSUES))]
    return np.concatenate([cv.mean(0), cv.max(0), cv[-1], _unit(agent[-1].vec) if agent else zero,
                           cp.mean(0), cp[0], cp[-1], [score.min(), score.max(), score[-1] - score[0]],
                           *pooled_scores, struct]).astype(np.float32)


@dataclass
class Linear:
    """A logistic layer on standardised features: softmax over `labels` (multi-class) or one sigmoid per label."""
    mean: np.ndarray
    scale: np.ndarray
    W: np.ndarray           # (n_labels or 1, n_features)
    b: np.ndarray
    labels: list[str]
    softmax: bool = False
    thresholds: list[float] = field(default_factory=list)  # per sigmoid label

    def predict(self, X: np.ndarray) -> np.ndarray:
        z = ((np.atleast_2d(X) - self.mean) / self.scale) @ self.W.T + self.b
        if self.softmax:
            e = np.exp(z - z.max(1, keepdims=True))
            return e / e.sum(1, keepdims=True)
        return _sigmoid(z)


@dataclass
class ConversationHeads:
    customer_turn: Linear      # escalation, effort
    agent_turn: Linear         # AGENT_ISSUES
    satisfaction: Linear       # softmax over SATISFACTION
    outcome: Linear            # resolved, escalation, effort
    dim: int
    info: dict = field(default_factory=dict)

    HEADS = ("customer_turn", "agent_turn", "satisfaction", "outcome")

    def save(self, model_dir: Path) -> None:
        tensors, meta = {}, {"dim": self.dim, "heads": {}, **self.info}
        for name in self.HEADS:
            h: Linear = getattr(self, name)
            for k in ("mean", "scale", "W", "b"):
                # contiguous: safetensors writes the raw buffer, and a multinomial coef_ can be a Fortran-ordered view
                tensors[f"{name}.{k}"] = np.ascontiguousarray(getattr(h, k), np.float32)
            meta["heads"][name] = {"labels": h.labels, "softmax": h.softmax, "thresholds": h.thresholds}
        save_file(tensors, str(Path(model_dir) / HEADS_FILE))
        (Path(model_dir) / HEADS_META).write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, model_dir: Path) -> "ConversationHeads | None":
        """The heads of a model directory, or None when it has none (then a chat gets per-turn sentiment only)."""
        path = Path(model_dir) / HEADS_FILE
        if not path.exists():
            return None
        t = load_file(str(path))
        meta = json.loads((Path(model_dir) / HEADS_META).read_text(encoding="utf-8"))
        heads = {name: Linear(t[f"{name}.mean"], t[f"{name}.scale"], t[f"{name}.W"], t[f"{name}.b"], **spec)
                 for name, spec in meta.pop("heads").items()}
        return cls(dim=int(meta.pop("dim")), info=meta, **heads)

    # -- inference ---------------------------------------------------------------------------------------------
    def turn_scores(self, turns: list[TurnFacts]) -> tuple[list[int], np.ndarray, list[int], np.ndarray]:
        """(customer turn indices, their (n, 2) signal probabilities, agent turn indices, their (n, 5) issue
        probabilities); turns without a vector are left out."""
        ci = [i for i, t in enumerate(turns) if t.role == "customer" and t.vec is not None]
        ai = [i for i, t in enumerate(turns) if t.role == "agent" and t.vec is not None]
        cs = (self.customer_turn.predict(np.stack([customer_turn_features(turns, i, self.dim) for i in ci]))
              if ci else np.zeros((0, len(CUSTOMER_SIGNALS))))
        ags = (self.agent_turn.predict(np.stack([agent_turn_features(turns, i, self.dim) for i in ai]))
               if ai else np.zeros((0, len(AGENT_ISSUES))))
        return ci, cs, ai, ags

    def judge(self, turns: list[TurnFacts]) -> dict:
        """Satisfaction probabilities, P(resolved), P(escalation), P(effort), and the turn heads' scores."""
        ci, cs, ai, ags = self.turn_scores(turns)
        x = conversation_features(turns, cs, ags, self.dim)
        sat = self.satisfaction.predict(x)[0]
        out = {"satisfaction": sat, "customer_turns": ci, "customer_scores": cs, "agent_turns": ai, "agent_scores": ags}
        for k, p in zip(self.outcome.labels, self.outcome.predict(x)[0]):
            out[k] = float(p)
            if k in self.info.get("blend", ()):  # with the turn that shows it most (training/conversation.py)
                out[k] = (out[k] + (float(cs[:, CUSTOMER_SIGNALS.index(k)].max()) if len(cs) else 0.0)) / 2
        return out

    def threshold(self, label: str) -> float:
        h = self.outcome
        return h.thresholds[h.labels.index(label)] if h.thresholds else 0.5

    def issue_threshold(self, kind: str) -> float:
        h = self.agent_turn
        return h.thresholds[h.labels.index(kind)] if h.thresholds else 0.5


def turning_turn(turns: list[TurnFacts], min_change: float = 0.5) -> int | None:
    """The customer turn where the mood moved most from the customer's turn before (P(pos) − P(neg)), when it
    moved by at least `min_change`."""
    best, at, prev = min_change, None, None
    for i, t in enumerate(turns):
        if t.role != "customer" or t.probs is None:
            continue
        s = float(t.probs[2] - t.probs[0])
        if prev is not None and abs(s - prev) >= best:
            best, at = abs(s - prev), i
        prev = s
    return at


@dataclass
class ReadTurn:
    """One turn after the model pass: its facts for the heads, and (customer turns) what the Analysis shows."""
    facts: TurnFacts
    doc: object = None           # nlp.document.Document of the text read (a customer turn without its greeting)
    sentiment: object = None     # models.schema.Sentiment
    clause_feats: list | None = None
    opener: str = ""             # the greeting left out of a customer turn's reading (nlp.chat.opener_length)


def read_conversations(scorer, conversations: list[list], batch_turns: int = 512) -> list[list[ReadTurn]]:
    """One model pass (batched across conversations) over every customer and agent turn (nlp.chat.Turn).

    A customer turn is read without its opening greeting (你好 reads as praise; nlp.chat.opener_length). A turn
    the model cannot read (an emoji, an image placeholder) keeps no vector and is left out of the features."""
    from nlp.chat import opener_length
    from nlp.document import TextError, build_document
    from nlp.files import parse_when

    out: list[list[ReadTurn]] = []
    todo: list[ReadTurn] = []
    for conv in conversations:
        times = [parse_when(t.time) if t.time else None for t in conv]
        t0 = next((t for t in times if t is not None), None)
        read = []
        for turn, when in zip(conv, times):
            minute = None
            if when is not None and t0 is not None:
                try:
                    minute = (when - t0).total_seconds() / 60
                except TypeError:  # one naive and one aware time: no wait is measured
                    minute = None
            rt = ReadTurn(TurnFacts(turn.role, None, None, minute))
            if turn.role in ("customer", "agent"):
                rt.opener = turn.text[:opener_length(turn.text)] if turn.role == "customer" else ""
                try:
                    rt.doc = build_document(turn.text[len(rt.opener):], spans=True)
                    todo.append(rt)
                except TextError:
                    pass
            read.append(rt)
        out.append(read)
    for k in range(0, len(todo), batch_turns):
        part = todo[k:k + batch_turns]
        sentiments, feats = scorer.analyze_docs([rt.doc for rt in part])
        for rt, s, f in zip(part, sentiments, feats):
            rt.sentiment, rt.clause_feats = s, f
            vecs = [v for v in f if v is not None]
            rt.facts.vec = np.mean(vecs, 0).astype(np.float32) if vecs else None
            rt.facts.probs = np.array([s.probs[lab] for lab in SATISFACTION], np.float32)
    return out
