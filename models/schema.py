"""The analysis object: the one schema every path (Python, CLI, batch, API) returns.

Shapes follow docs/contract.md. The API's request/response models are
built from these classes too, so the OpenAPI document and the CLI's JSON agree.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

LABELS = ("negative", "neutral", "positive")

Label = Literal["negative", "neutral", "positive"]
Lang = Literal["zh", "en", "mixed"]
Role = Literal["customer", "agent", "system"]


class Sentiment(BaseModel):
    label: Label
    score: float = Field(description="P(positive) − P(negative), in [−1, 1]; > 0 means positive for binary use")
    confidence: float = Field(description="probability of the chosen label")
    probs: dict[str, float]


class Aspect(BaseModel):
    aspect: str
    label: Label
    confidence: float
    evidence: str = Field(description="shortest substring of `text` supporting the aspect")
    start: int | None = Field(None, description="offset of `evidence` in `text`")
    end: int | None = None


class Topic(BaseModel):
    id: int
    label: str


class Flag(BaseModel):
    """A reason not to take a review at face value; the review queue (`voc score --flags-only`) lists them."""
    kind: str = Field(description="rating_mismatch | incentivised | templated | duplicate | sarcasm (docs/contract.md)")
    confidence: float
    reason: str = Field("", description="why, in a few words (the phrase or the rating that triggered it)")


class TurnAnalysis(BaseModel):
    index: int
    role: Role
    speaker: str = ""
    time: str | None = None
    text: str
    sentiment: Sentiment | None = Field(None, description="scored for customer turns only")


class ChatSummary(BaseModel):
    customer_turns: int
    overall: Sentiment | None = Field(None, description="over all customer turns")
    first: Sentiment | None = Field(None, description="the first customer turn")
    last: Sentiment | None = Field(None, description="the last customer turn")
    trend: float | None = Field(None, description="last.score − first.score: > 0 means the customer ended happier")


class AgentFlag(BaseModel):
    turn: int = Field(description="index of the agent turn in `turns`")
    kind: str = Field(description="rude | dismissive | scripted_non_answer | unhelpful | slow")
    confidence: float
    quote: str = Field(description="the agent turn's text (at most 200 characters)")


class Escalation(BaseModel):
    escalated: bool = Field(description="asks for a manager or a human, threatens a complaint or bad review "
                                        "(投诉, 差评, 12315, 消协, chargeback) or to leave")
    probability: float
    turn: int | None = Field(None, description="the customer turn that shows it most clearly (when escalated)")
    quote: str | None = None


class Effort(BaseModel):
    high: bool = Field(description="the customer had to work for it: repeated questions, \"I already told you\", "
                                   "long waits")
    probability: float
    turns: list[int] = Field(default_factory=list, description="customer turns that repeat themselves or complain "
                                                               "of having to (when high)")
    long_waits: list[int] = Field(default_factory=list, description="turns that came after the customer waited "
                                                                    "10 minutes or more for an answer (timed logs)")
    longest_wait_min: float | None = None


class AgentQuality(BaseModel):
    response_min: dict[str, float] | None = Field(None, description="agent response times in minutes "
                                                                    "(first, mean, max), when turns are timed")
    flags: list[AgentFlag] = Field(default_factory=list)


class Conversation(BaseModel):
    """A customer-service conversation as a CX analyst reads it (models/conversation.py)."""
    satisfaction: Sentiment = Field(description="the customer's satisfaction at the end, not their average mood")
    resolved: bool
    resolved_probability: float
    escalation: Escalation
    effort: Effort
    turning_turn: int | None = Field(None, description="the customer turn where the mood moved most (≥ 0.5)")
    customer_turns: int
    agent_turns: int
    agent: AgentQuality


class Analysis(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "id": "row-17", "text": "东西不错，就是物流太慢了，等了一个星期", "lang": "zh",
        "sentiment": {"label": "negative", "score": -0.4086, "confidence": 0.6387,
                      "probs": {"negative": 0.6387, "neutral": 0.1312, "positive": 0.2301}},
        "aspects": [{"aspect": "product_quality", "label": "positive", "confidence": 0.5845, "evidence": "东西不错",
                     "start": 0, "end": 4},
                    {"aspect": "logistics", "label": "negative", "confidence": 0.4611, "evidence": "物流太慢了",
                     "start": 7, "end": 12}],
        "model": "voc-sentiment@2026-12-06.061109"}})

    id: str
    text: str = Field(description="the input with personal data (phone, e-mail, order numbers, URLs) masked")
    lang: Lang
    sentiment: Sentiment
    aspects: list[Aspect] = Field(default_factory=list)
    topic: Topic | None = None
    model: str
    chat: ChatSummary | None = None
    turns: list[TurnAnalysis] | None = None
    conversation: Conversation | None = Field(None, description="chat logs, with a model that has conversation "
                                                                "heads: satisfaction, resolved, escalation, effort, agent quality")
    flags: list[Flag] | None = Field(None, description="trust flags; absent where none was raised")
    placeholder: bool | None = Field(None, description="true where the text is what a platform writes for a missing "
                                                       "review (此用户没有填写评价, 系统默认好评): neutral, nobody's opinion; "
                                                       "left out of /v1/stats shares and the report's")

    def to_json_dict(self) -> dict:
        return self.model_dump(mode="json", exclude_none=True)


class ErrorInfo(BaseModel):
    code: str
    message: str


class ItemError(BaseModel):
    """A text that could not be analysed; batch paths report these instead of dropping rows."""

    id: str
    error: ErrorInfo


def sentiment_from_probs(p, labels=LABELS) -> Sentiment:
    """label = argmax, score = P(positive) − P(negative), confidence = max probability."""
    probs = {lab: round(float(v), 4) for lab, v in zip(labels, p)}
    best = max(range(len(labels)), key=lambda i: p[i])
    return Sentiment(label=labels[best], score=round(probs.get("positive", 0) - probs.get("negative", 0), 4),
                     confidence=round(float(p[best]), 4), probs=probs)
