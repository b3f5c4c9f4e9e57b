"""The HTTP API's request and response bodies (pydantic). The analysis itself is models.schema.Analysis, so the
OpenAPI document, the CLI's JSON and batch output agree."""
from typing import Union

from pydantic import BaseModel, ConfigDict, Field

from models.registry import NAME_PATTERN
from models.schema import Analysis, ErrorInfo


class ErrorResponse(BaseModel):
    """Every error: a stable machine-readable `code` and a message for people."""
    error: ErrorInfo


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(None, max_length=200)
    text: str
    time: str | None = Field(None, description="when the customer wrote it, ISO 8601 (2026-11-01, 2026-11-01T09:30:00+08:00; "
                                                    "no offset: VOC_TZ); /v1/stats counts by it (default: now)")
    groups: dict[str, str] | None = Field(None, description="group values to break results down by in /v1/stats "
                                                            "(by=group:shop) and alerts: {\"shop\": \"旗舰店\"}; at most 8 "
                                                            "names (letters, digits, _), values up to 200 characters")
    rating: float | None = Field(None, ge=0, le=10, description="the review's star rating (1–5; above 5: a 0–10 scale): "
                                                                "a text that confidently contradicts it is flagged "
                                                                "rating_mismatch")


class ChatTurnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: str = Field(description="customer, agent or system (also 顾客/买家/客服, user/assistant)")
    text: str
    time: str | None = None


class AnalyzeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"text": "物流很快，但是衣服有色差，客服也不回消息"},
        {"items": [{"id": "a", "text": "Great value, arrived two days early.", "time": "2026-11-01"},
                   {"id": "b", "text": "質量太差了，用了兩天就壞了", "time": "2026-11-02T21:15:00+08:00"}]},
        {"chat": [{"role": "customer", "text": "我的快递三天了还没到"},
                  {"role": "agent", "text": "亲，帮您催一下"},
                  {"role": "customer", "text": "好的，谢谢，已经收到了"}]},
    ]})
    text: str | None = Field(None, description="one review")
    id: str | None = Field(None, max_length=200, description="caller's id for `text`")
    time: str | None = Field(None, description="when `text` or `chat` was written, as for items")
    groups: dict[str, str] | None = Field(None, description="group values of `text`, as for items")
    items: list[Item] | None = Field(None, description="a batch of reviews (at most 256)")
    chat: Union[str, list[ChatTurnIn], None] = Field(None, description="a chat log: transcript text or a list of turns; "
                                                                          "the result carries `conversation` (satisfaction, "
                                                                          "resolved, escalation, effort, agent quality)")
    roles: dict[str, str] | None = Field(None, description="with `chat`: speaker names → customer / agent / system, for "
                                                           "exports whose names say no role ({\"helpdesk\": \"agent\"})")


class TopicsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"texts": ["快递太慢了，等了一周", "颜色和图片不一样", "客服态度很差"], "negative_only": False, "seed": 42}]})
    texts: list[str] = Field(description="at least 20 distinct texts, at most 5,000")
    ids: list[str] | None = None
    timestamps: list[str] | None = Field(None, description="one per text: topic frequencies over time are returned")
    negative_only: bool = False
    seed: int = Field(42, ge=0, le=2**32 - 1, description="seed of every random step (0 to 2**32 - 1)")


class LabeledItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str
    label: Union[str, int] = Field(description="positive/neutral/negative, 1–5 stars, or 0/1")


_GOOD = ["外卖送得很快", "味道不错", "包装很用心", "分量很足", "骑手很有礼貌", "Fresh and hot.", "Great value.",
         "Arrived early.", "Tasty, will order again.", "Friendly rider."]
_BAD = ["汤洒了一半", "送了两个小时", "菜是凉的", "少送了一份", "太咸了", "The soup was cold.", "Rude rider.",
        "Missing items.", "Way too salty.", "Arrived an hour late."]


class TrainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"items": [{"text": t, "label": "positive"} for t in _GOOD] + [{"text": t, "label": "negative"} for t in _BAD],
         "epochs": 2}]})
    items: list[LabeledItem] = Field(description="labeled reviews: at least 20, of two classes or more (the 2 MB body "
                                                 "limit applies; use `voc train` for more)")
    name: str | None = Field(None, pattern=NAME_PATTERN, description="the new model's name (default voc-custom@DATE.TIME)")
    epochs: float = Field(2.0, gt=0, le=10)
    promote: bool = Field(False, description="serve the new model if its macro-F1 is not worse than the serving one's, "
                                             "measured on 15% of the items: at least 50, so about 330 items or more")
    force: bool = Field(False, description="with promote: serve it even if it is worse")


class AnalyzeResponse(BaseModel):
    results: list[Analysis]


class StatsGroup(BaseModel):
    key: Union[str, int, list[Union[str, int, None]], None] = Field(
        description="the group: a day (2026-11-01), aspect, topic id, label or lang; a [first, second] pair for two groupings")
    count: int
    mean_score: float = Field(description="mean sentiment score (by aspect: +1 per positive mention, −1 per negative)")
    share: dict[str, float] = Field(description="positive / neutral / negative shares of the group")


class StatsResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    by: str
    from_: str | None = Field(None, alias="from")
    to: str | None = None
    tz: str = Field(description="the time zone of the days")
    items: int = Field(description="stored reviews in the window (placeholders not included)")
    placeholders: int = Field(description="platform stand-ins for missing reviews (系统默认好评) in the window, counted apart")
    groups: list[StatsGroup]
    conversations: "StatsConversations | None" = Field(None, description="scored chat conversations in the window "
                                                                         "(each also counts as an item, with its satisfaction)")


class StatsConversations(BaseModel):
    count: int
    escalated: int
    unresolved: int
    share: dict[str, float] = Field(description="satisfaction shares: positive / neutral / negative")


StatsResponse.model_rebuild()


class ModelsResponse(BaseModel):
    serving: str
    mode: str
    engine: str = Field(description="what runs the model: bf16 (the default on CPUs with AMX or AMD's AVX-512 BF16: OpenVINO, "
                                    "bf16 matrix products), ov-int8 (the default on other Intel CPUs with AVX-512 VNNI: OpenVINO, "
                                    "int8 weights and per-token activations), int8 (the default elsewhere: per-token int8 on ONNX "
                                    "Runtime), fp32 (VOC_ENGINE=fp32, exact) "
                                    "or fast (fast mode's static vectors); scores differ by ~0.003 (int8 from fp32) and ~0.007 (bf16 from int8) on average")
    models: list[dict]
