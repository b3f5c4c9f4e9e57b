"""Trust flags: incentive phrases, rating mismatch, copy-paste repeats, the learned heads and the analyzer's hook."""
import numpy as np
import pytest

from models.flag_heads import FlagHeads
from models.flags import DuplicateFinder, incentive_flag, rating_mismatch, with_flags
from models.schema import Analysis, Aspect, Flag, sentiment_from_probs


def analysis(p_neg, p_pos, aspects=(), placeholder=None):
    return Analysis(id="r", text="t", lang="zh", sentiment=sentiment_from_probs(np.array([p_neg, 1 - p_neg - p_pos, p_pos])),
                    aspects=[Aspect(aspect=a, label=lab, confidence=0.9, evidence="t") for a, lab in aspects],
                    model="m", placeholder=placeholder)


@pytest.mark.parametrize("text", ["好评返现，东西一般般", "晒图返3元红包，东西还可以", "商家说五星好评返5元", "卖家让写好评送小礼物",
                                  "I received this product free in exchange for my honest review.",
                                  "Seller offered a $10 gift card for a 5-star review."])
def test_incentive_phrases_flag(text):
    f = incentive_flag(text)
    assert f is not None and f.kind == "incentivised" and f.reason and f.reason in text


@pytest.mark.parametrize("text", ["不是为了返现才写的，真心好用", "双十一满减加优惠券，到手价很划算", "The refund arrived in two days.",
                                  "Came with a free travel case, which was a nice touch.", "退款很快，售后不错"])
def test_no_incentive_no_flag(text):
    assert incentive_flag(text) is None


def test_rating_mismatch_needs_a_confident_opposite_text():
    assert rating_mismatch(analysis(0.92, 0.03), 5).kind == "rating_mismatch"
    assert rating_mismatch(analysis(0.03, 0.95), 1).reason == "1/5 but the text is positive"
    assert rating_mismatch(analysis(0.6, 0.2), 4) is None  # a 4-star review with a mild complaint
    assert rating_mismatch(analysis(0.92, 0.03, [("logistics", "positive")]), 5) is None  # praises something
    assert rating_mismatch(analysis(0.92, 0.03), 3) is None  # a middling rating contradicts nothing
    assert rating_mismatch(analysis(0.92, 0.03), None) is None
    assert rating_mismatch(analysis(0.92, 0.03), 8, scale=10) is None and rating_mismatch(analysis(0.92, 0.03), 9, scale=10)
    assert rating_mismatch(analysis(0.0, 0.0, placeholder=True), 5) is None


def test_duplicates_exact_near_and_short():
    d = DuplicateFinder()
    long = "这款电脑包做工很好，拉链顺滑，装15寸电脑刚刚好，推荐购买"
    assert d.check("a", long) is None
    assert d.check("b", "今天天气不错，东西也不错，物流很快很满意") is None
    exact = d.check("c", " 这款电脑包做工很好!拉链顺滑 装15寸电脑刚刚好～推荐购买 ")  # punctuation and spaces differ
    assert exact.kind == "duplicate" and exact.reason == "same text as a" and exact.confidence == 1.0
    near = d.check("d", "这款电脑包做工很好，拉链顺滑，装15寸电脑刚刚好，推荐购买哦")
    assert near.kind == "duplicate" and "a" in near.reason and 0.8 <= near.confidence < 1
    assert d.check("e", "很好很好") is None and d.check("f", "很好很好") is None  # short repeats are innocent
    assert d.check("g", "Great product, arrived on time, would buy again from this seller") is None


def test_with_flags_keeps_one_per_kind():
    a = with_flags(analysis(0.1, 0.8), [Flag(kind="sarcasm", confidence=0.7), None, Flag(kind="sarcasm", confidence=0.9)])
    assert [(f.kind, f.confidence) for f in a.flags] == [("sarcasm", 0.9)]
    assert with_flags(analysis(0.1, 0.8), [None]).flags is None  # absent where none


def test_flag_heads_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    heads = FlagHeads(["sarcasm", "templated"], rng.normal(size=(2, 8)).astype(np.float32), np.zeros(2, np.float32),
                      np.array([0.5, 0.99], np.float32), {"note": "test"})
    heads.save(tmp_path)
    back = FlagHeads.load(tmp_path)
    vecs = rng.normal(size=(5, 8)).astype(np.float32)
    assert np.allclose(back.predict(vecs), heads.predict(vecs)) and back.info == {"note": "test"}
    probs = heads.predict(vecs)
    for p, flags in zip(probs, heads.flags(vecs)):
        assert [f.kind for f in flags] == [k for k, q, t in zip(heads.kinds, p, heads.thresholds) if q >= t]
    assert FlagHeads.load(tmp_path / "none") is None


@pytest.mark.slow
def test_shipped_model_flags_reviews():
    """The default model's analyzer raises the learned and the phrase flags in its one pass."""
    from models.analyzer import Analyzer

    analyzer = Analyzer.load()
    assert analyzer.flag_heads is not None and analyzer.flag_heads.kinds == ["sarcasm", "templated"]
    texts = ["好评返现，东西一般般", "凑字数凑字数，电脑很好，电脑很好，电脑很好", "衣服质量很好，面料舒服，尺码标准，物流也快",
             "此用户没有填写评价"]
    res = analyzer.analyze([(str(i), t) for i, t in enumerate(texts)])
    kinds = [{f.kind for f in r.flags or []} for r in res]
    assert "incentivised" in kinds[0] and "templated" not in kinds[0]
    assert "templated" in kinds[1]
    assert kinds[2] == set() and res[3].flags is None  # a plain review, a placeholder
    vec_heads, analyzer.flag_heads = analyzer.flag_heads, None  # without heads: the same sentiment, phrase flags only
    again = analyzer.analyze([(str(i), t) for i, t in enumerate(texts)])
    assert [r.sentiment for r in again] == [r.sentiment for r in res]
    assert [{f.kind for f in r.flags or []} for r in again][:2] == [{"incentivised"}, set()]
    analyzer.flag_heads = vec_heads
