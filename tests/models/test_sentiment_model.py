"""The committed default model on 30 team-written reviews (zh, en, mixed, Traditional, negation, contrast)."""
import json
from pathlib import Path

import pytest

from models.analyzer import Analyzer
from models.schema import ItemError
from nlp.document import build_document

REVIEWS = [json.loads(x) for x in (Path(__file__).resolve().parents[1] / "data" / "reviews_30.jsonl").read_text("utf-8").splitlines()]


@pytest.fixture(scope="module")
def analyzer():
    return Analyzer.load(aspects=False)


def test_at_least_27_of_30_right(analyzer):
    results = analyzer.analyze([(str(i), r["text"]) for i, r in enumerate(REVIEWS)])
    wrong = [(r["text"], res.sentiment.label) for r, res in zip(REVIEWS, results) if res.sentiment.label != r["label"]]
    assert len(REVIEWS) == 30 and len(wrong) <= 3, wrong


def test_a_review_scores_the_same_alone_and_in_a_batch(analyzer):
    alone = analyzer.analyze([("0", REVIEWS[8]["text"])])[0].sentiment
    batched = analyzer.analyze([(str(i), r["text"]) for i, r in enumerate(REVIEWS)])[8].sentiment
    assert alone.score == pytest.approx(batched.score, abs=1e-3)


def test_neutral_exists(analyzer):
    [res] = analyzer.analyze([("0", "昨天下的单，今天到了，还没拆开。")])
    assert res.sentiment.label == "neutral"


@pytest.mark.parametrize("bad", ["", "   ", None])
def test_empty_text_is_an_error_not_a_guess(analyzer, bad):
    [res] = analyzer.analyze([("0", bad)])
    assert isinstance(res, ItemError) and res.error.code == "empty_text"


def test_long_text_is_scored_in_windows_not_cut(analyzer):
    text = "质量很好，物流很快，非常满意。" * 200 + "但是后来坏了，客服不理人，退款也不给，太差了。" * 400
    [res] = analyzer.analyze([("0", text)])
    assert len(analyzer.scorer.windows([build_document(text)])) > 10
    assert res.sentiment.label == "negative"  # the complaint that fills the last two thirds is not cut off
