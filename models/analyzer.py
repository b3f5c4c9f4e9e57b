"""The analysis pipeline: text → Document (nlp) → sentiment (+ aspects) → `Analysis`.

Heavy parts (scorer, aspect model) are loaded once and passed in; the API, the
CLI and batch jobs all share one `Analyzer`. Constructing one is cheap and changes nothing
process-wide (thread settings are the entry points' business: models.runtime.hardware).
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable

import numpy as np

from models import registry
from models.aspects import AspectModel, load_taxonomy
from models.clause_heads import ClauseHeads
from models.conversation import LONG_WAIT_MIN, ConversationHeads, ReadTurn, read_conversations, turning_turn, wait_before
from models.fast import FastScorer
from models.flag_heads import FlagHeads
from models.flags import incentive_flag, with_flags
from models.runtime.backends import OnnxNet
from models.runtime.hardware import choose_engine
from models.schema import (LABELS, AgentFlag, AgentQuality, Analysis, Aspect, ChatSummary, Conversation, Effort, ErrorInfo,
                           Escalation, ItemError, TurnAnalysis, sentiment_from_probs)
from models.scorer import Scorer
from models.sentiment import SentimentScorer
from nlp.chat import Turn, opener_length, parse_chat
from nlp.document import TextError, build_document


NO_OPINION = sentiment_from_probs(np.array([float(lab == "neutral") for lab in LABELS]), LABELS)


class Analyzer:
    def __init__(self, scorer: Scorer, aspects=None, extra_aspects=None, flag_heads: FlagHeads | None = None,
                 conversation: ConversationHeads | None = None):
        self.scorer = scorer
        # learned trust flags (sarcasm, templated) on the pooled vectors of the learned heads' pass; None: only the
        # incentive-phrase flag, which needs no model
        self.flag_heads = flag_heads
        # models.conversation.ConversationHeads: satisfaction, resolved, escalation... of chats (needs clause features)
        self.conversation = conversation if getattr(scorer, "clause_layer", None) is not None else None
        # models.clause_heads.ClauseHeads (learned, from the sentiment pass itself), models.aspects.AspectModel
        # (similarity to taxonomy examples: fast mode, models without heads) or None
        self.aspects = aspects
        self.learned = isinstance(aspects, ClauseHeads)
        # with learned heads: an AspectModel for the aspects a user's taxonomy adds that the heads do not know
        self.extra_aspects = extra_aspects
        # with similarity aspects on the encoder, the reviews' sentiment pass runs here beside the clause embedding
        # pass (see analyze); not in fast mode, whose passes are milliseconds of numpy with nothing to overlap
        beside = aspects is not None and not self.learned and aspects.embed_and_score is None
        # a worker per analyze() running at once (the API's batches in flight; threads start only when needed)
        self._beside = ThreadPoolExecutor(max_workers=4, thread_name_prefix="voc-reviews") if beside else None

    @property
    def model_name(self) -> str:
        return self.scorer.name

    @classmethod
    def load(cls, model: str | None = None, mode: str = "accurate", aspects: bool = True,
             taxonomy: Path | None = None, engine: str = "auto") -> "Analyzer":
        """`model`: a registered name (default: the registry's serving model). `taxonomy`: a user's taxonomy file
        (Settings.taxonomy); aspects it adds beyond the model's heads are found by similarity to their examples
        (data/aspects/taxonomy.json shows the format). `engine`: what runs the accurate model (Settings.engine:
        auto, int8, bf16, ov-int8 or fp32; models.runtime.hardware)."""
        name = model or registry.serving_name()
        path = registry.path_of(name)
        if mode == "fast":
            scorer = FastScorer.load(path)
        elif mode == "accurate":
            scorer = SentimentScorer.load(path, engine=choose_engine(engine))
        else:
            raise ValueError(f"unknown mode {mode!r}; use fast or accurate")
        aspect_model = extra = None
        if aspects and scorer.heads is not None:
            aspect_model = scorer.heads
            added = [a.key for a in load_taxonomy(taxonomy)[0] if a.key not in scorer.heads.keys] if taxonomy else []
            extra = AspectModel.load(scorer, taxonomy, only=added) if added else None
        elif aspects:
            aspect_model = AspectModel.load(scorer, taxonomy)
        if isinstance(scorer.net, OnnxNet):
            scorer.net.wait_ready()  # graphs load in the background (OnnxNet): fail here, not later
        # the flag heads read the pooled vectors of the clause-feature pass: accurate mode with learned heads only
        flag_heads = FlagHeads.load(path) if isinstance(aspect_model, ClauseHeads) else None
        return cls(scorer, aspect_model, extra, flag_heads, ConversationHeads.load(path) if mode == "accurate" else None)

    def warm_up(self) -> None:
        """One Chinese and one English analysis, so that what loads on first use (tokenizers, ONNX
        sessions) does not delay the first real request."""
        self.analyze([("warm-up-zh", "物流很快，质量不错"), ("warm-up-en", "Fast delivery, good quality")])

    def analyze(self, items: Iterable[tuple[str, object]]) -> list[Analysis | ItemError]:
        """Analyse (id, text) pairs; a bad text yields an ItemError in its place, never an exception.

        A platform's stand-in for a missing review ("此用户没有填写评价。", "系统默认好评") is no customer's opinion:
        it is analysed as neutral (probability 1) with no aspects, without a model call. The model read
        "用户未填写评价内容" as −0.76, and real exports hold thousands of such rows."""
        results: list[Analysis | ItemError | None] = []
        docs, where = [], []
        for item_id, text in items:
            try:
                doc = build_document(text, id=item_id, spans=self.aspects is not None)
            except TextError as e:
                results.append(ItemError(id=item_id, error=ErrorInfo(code=e.code, message=str(e))))
                continue
            if doc.is_placeholder:
                results.append(Analysis(id=doc.id, text=doc.display, lang=doc.lang, sentiment=NO_OPINION, aspects=[],
                                        model=self.model_name, placeholder=True))
                continue
            results.append(None)
            docs.append(doc)
            where.append(len(results) - 1)
        learned_flags = [[] for _ in docs]
        if self.learned:  # one pass: the reviews' sentiment, their clauses' features and (flag heads) pooled vectors
            if self.flag_heads is not None:
                sentiments, feats, vecs = self.scorer.analyze_docs(docs, doc_vectors=True)
                learned_flags = self.flag_heads.flags(vecs)
            else:
                sentiments, feats = self.scorer.analyze_docs(docs)
            aspects = [self.aspects.detect(doc, f) for doc, f in zip(docs, feats)]
            if self.extra_aspects is not None:
                aspects = [a + b for a, b in zip(aspects, self.extra_aspects.detect(docs, sentiments))]
        elif self._beside is not None:
            # two independent model passes side by side: each runs as whole calls on a core of its own instead of
            # halves of small calls split over both cores, which run far below full speed
            pending = self._beside.submit(self.scorer.score_docs, docs)
            aspects = self.aspects.detect(docs, pending)
            sentiments = pending.result()
        else:
            sentiments = self.scorer.score_docs(docs)
            aspects = self.aspects.detect(docs, sentiments) if self.aspects else [[] for _ in docs]
        for pos, doc, sent, asp, flags in zip(where, docs, sentiments, aspects, learned_flags):
            paid = incentive_flag(doc.text)
            if paid is not None:  # a stated incentive says more than the wording: not also `templated`
                flags = [f for f in flags if f.kind != "templated"]
            results[pos] = with_flags(Analysis(id=doc.id, text=doc.display, lang=doc.lang, sentiment=sent,
                                               aspects=asp, model=self.model_name), flags + [paid])
        return results  # type: ignore[return-value]

    def analyze_one(self, text, item_id: str = "0") -> Analysis:
        """Like analyze() for one text, but raises TextError on bad input."""
        [res] = self.analyze([(item_id, text)])
        if isinstance(res, ItemError):
            err = TextError(res.error.message)
            err.code = res.error.code
            raise err
        return res

    def analyze_chat(self, log, item_id: str = "0", roles=None) -> Analysis:
        """Per-turn sentiment for customer turns, the customer's overall/first/last sentiment, and the trend.

        A customer turn is scored without its opening greeting or acknowledgment (nlp.chat.opener_length: 你好,
        "hi", 好的), which is kept in the turn's text. Aspects carry offsets into the returned transcript `text`.
        With conversation heads (the default model) the analysis also carries `conversation` and its sentiment is
        the customer's satisfaction (analyze_chats); raises TextError (ChatFormatError) on a log it cannot use."""
        turns: list[Turn] = log if _is_turns(log) else parse_chat(log, roles)
        if self.conversation is not None:
            [res] = self.analyze_chats([(item_id, turns)])
            if isinstance(res, ItemError):
                err = TextError(res.error.message)
                err.code = res.error.code
                raise err
            return res
        customer = [(i, t) for i, t in enumerate(turns) if t.role == "customer"]
        scored = {}
        if customer:
            openers = {i: t.text[:opener_length(t.text)] for i, t in customer}
            for (i, _), res in zip(customer, self.analyze([(str(i), t.text[len(openers[i]):]) for i, t in customer])):
                if isinstance(res, Analysis):
                    scored[i] = res.model_copy(update={"text": openers[i] + res.text,
                                                       "aspects": _shifted(res.aspects, len(openers[i]))})
        out_turns = [TurnAnalysis(index=i, role=t.role, speaker=t.speaker, time=t.time, text=scored[i].text if i in scored else t.text,
                                  sentiment=scored[i].sentiment if i in scored else None) for i, t in enumerate(turns)]
        cust = [scored[i] for i, _ in customer if i in scored]
        if not cust:
            raise TextError("the chat log has no customer turn with text to analyse")
        weights = np.array([max(len(a.text), 1) for a in cust], dtype=float)
        probs = {lab: float(np.average([a.sentiment.probs[lab] for a in cust], weights=weights))
                 for lab in cust[0].sentiment.probs}
        labels = tuple(probs)
        overall = sentiment_from_probs(np.array([probs[lab] for lab in labels]), labels)
        summary = ChatSummary(customer_turns=len(cust), overall=overall, first=cust[0].sentiment, last=cust[-1].sentiment,
                              trend=round(cust[-1].sentiment.score - cust[0].sentiment.score, 4))
        lines, aspects, at = [], [], 0
        for t in out_turns:
            line = f"{t.role}: {t.text}"
            if t.index in scored:  # a turn's aspects, moved to where the turn's text starts in the transcript
                aspects += _shifted(scored[t.index].aspects, at + len(line) - len(t.text))
            lines.append(line)
            at += len(line) + 1
        return Analysis(id=item_id, text="\n".join(lines), lang=_common_lang(cust), sentiment=overall, aspects=aspects,
                        model=self.model_name, chat=summary, turns=out_turns)

    def analyze_chats(self, items: Iterable[tuple[str, object]], roles=None) -> list[Analysis | ItemError]:
        """Analyse (id, chat) pairs, a chat being a transcript, a list of turn objects or of nlp.chat.Turn, in one
        model pass over all their turns; a chat that cannot be used yields an ItemError in its place. Without
        conversation heads (fast mode, a model without them) each chat is analysed as analyze_chat does."""
        parsed: list[tuple[str, list[Turn] | ItemError]] = []
        for item_id, log in items:
            try:
                parsed.append((item_id, log if _is_turns(log) else parse_chat(log, roles)))
            except TextError as e:
                parsed.append((item_id, ItemError(id=item_id, error=ErrorInfo(code=e.code, message=str(e)))))
        if self.conversation is None:
            out = []
            for item_id, turns in parsed:
                try:
                    out.append(turns if isinstance(turns, ItemError) else self.analyze_chat(turns, item_id))
                except TextError as e:
                    out.append(ItemError(id=item_id, error=ErrorInfo(code=e.code, message=str(e))))
            return out
        good = [(i, turns) for i, (_, turns) in enumerate(parsed) if not isinstance(turns, ItemError)]
        read = read_conversations(self.scorer, [turns for _, turns in good])
        out = [turns for _, turns in parsed]
        for (i, turns), conv in zip(good, read):
            out[i] = self._conversation(parsed[i][0], turns, conv)
        return out

    def _conversation(self, item_id: str, turns: list[Turn], read: list[ReadTurn]) -> Analysis | ItemError:
        scored = {i: rt for i, rt in enumerate(read) if turns[i].role == "customer" and rt.sentiment is not None}
        if not scored:
            return ItemError(id=item_id, error=ErrorInfo(code="empty_text",
                                                         message="the chat log has no customer turn with text to analyse"))
        texts = {i: rt.opener + rt.doc.display for i, rt in scored.items()}
        found = {i: _shifted(self.aspects.detect(rt.doc, rt.clause_feats), len(rt.opener)) if self.learned else []
                 for i, rt in scored.items()}
        if self.extra_aspects is not None:
            extra = self.extra_aspects.detect([rt.doc for rt in scored.values()], [rt.sentiment for rt in scored.values()])
            found = {i: found[i] + _shifted(e, len(scored[i].opener)) for i, e in zip(scored, extra)}
        out_turns = [TurnAnalysis(index=i, role=t.role, speaker=t.speaker, time=t.time, text=texts.get(i, t.text),
                                  sentiment=scored[i].sentiment if i in scored else None) for i, t in enumerate(turns)]
        cust = [scored[i].sentiment for i in scored]
        weights = np.array([max(len(scored[i].doc.display), 1) for i in scored], dtype=float)
        mean = np.average([[s.probs[lab] for lab in LABELS] for s in cust], axis=0, weights=weights)
        summary = ChatSummary(customer_turns=len(cust), overall=sentiment_from_probs(mean, LABELS), first=cust[0],
                              last=cust[-1], trend=round(cust[-1].score - cust[0].score, 4))
        lines, aspects, at = [], [], 0
        for t in out_turns:
            line = f"{t.role}: {t.text}"
            if t.index in found:  # a turn's aspects, moved to where the turn's text starts in the transcript
                aspects += _shifted(found[t.index], at + len(line) - len(t.text))
            lines.append(line)
            at += len(line) + 1
        conversation = self._judge(read, out_turns)
        langs = {rt.doc.lang for rt in scored.values()}
        return Analysis(id=item_id, text="\n".join(lines), lang=langs.pop() if len(langs) == 1 else "mixed",
                        sentiment=conversation.satisfaction, aspects=aspects, model=self.model_name, chat=summary,
                        turns=out_turns, conversation=conversation)

    def _judge(self, read: list[ReadTurn], turns: list[TurnAnalysis]) -> Conversation:
        heads = self.conversation
        facts = [rt.facts for rt in read]
        j = heads.judge(facts)
        quote = lambda i: turns[i].text[:200]  # noqa: E731
        ci, cs, ai, ags = j["customer_turns"], j["customer_scores"], j["agent_turns"], j["agent_scores"]
        escalated = j["escalation"] >= heads.threshold("escalation")
        at = ci[int(np.argmax(cs[:, 0]))] if escalated and ci else None
        waits = {i: w for i, f in enumerate(facts) if f.role == "agent" and (w := wait_before(facts, i)) is not None}
        long_waits = [i for i, w in waits.items() if w >= LONG_WAIT_MIN]
        effort_high = j["effort"] >= heads.threshold("effort") or bool(long_waits)
        effort_turns = sorted({ci[k] for k in np.flatnonzero(cs[:, 1] >= 0.5)} | ({ci[int(np.argmax(cs[:, 1]))]} if ci else set())) \
            if j["effort"] >= heads.threshold("effort") else []
        flags = []
        for k, i in enumerate(ai):
            for a, kind in enumerate(heads.agent_turn.labels):
                if ags[k, a] >= heads.issue_threshold(kind):
                    flags.append(AgentFlag(turn=i, kind=kind, confidence=round(float(ags[k, a]), 4), quote=quote(i)))
        flags += [AgentFlag(turn=i, kind="slow", confidence=1.0, quote=quote(i)) for i in long_waits
                  if not any(f.turn == i and f.kind == "slow" for f in flags)]
        response = ({"first": round(next(iter(waits.values())), 2), "mean": round(float(np.mean(list(waits.values()))), 2),
                     "max": round(max(waits.values()), 2)} if waits else None)
        return Conversation(
            satisfaction=sentiment_from_probs(j["satisfaction"], LABELS), resolved=j["resolved"] >= heads.threshold("resolved"),
            resolved_probability=round(j["resolved"], 4),
            escalation=Escalation(escalated=escalated, probability=round(j["escalation"], 4), turn=at,
                                  quote=quote(at) if at is not None else None),
            effort=Effort(high=effort_high, probability=round(j["effort"], 4), turns=effort_turns, long_waits=long_waits,
                          longest_wait_min=round(max(waits.values()), 2) if waits else None),
            turning_turn=turning_turn(facts), customer_turns=sum(f.role == "customer" for f in facts),
            agent_turns=sum(f.role == "agent" for f in facts),
            agent=AgentQuality(response_min=response, flags=sorted(flags, key=lambda f: (f.turn, -f.confidence))))


def _is_turns(log) -> bool:
    return isinstance(log, list) and bool(log) and all(isinstance(t, Turn) for t in log)


def _shifted(aspects: list[Aspect], by: int) -> list[Aspect]:
    if not by:
        return aspects
    return [a.model_copy(update={"start": a.start + by, "end": a.end + by}) if a.start is not None else a for a in aspects]


def _common_lang(results: list[Analysis]) -> str:
    langs = {r.lang for r in results}
    return langs.pop() if len(langs) == 1 else "mixed"
