"""The accurate scorer (models/sentiment.py) on a tiny model: windows, long texts, the contract's scores."""
import pytest

from models.classifier import LABELS
from models.sentiment import SentimentScorer
from nlp.document import build_document


def test_scorer_windows_long_text_without_losing_tokens(trained):
    net, tok, _ = trained
    scorer = SentimentScorer(net, tok, {"labels": list(LABELS), "prefix": "", "max_len": 32, "name": "tiny"}, threads=1)
    doc = build_document("很好很棒。" * 400 + "太差了太烂了。" * 300)
    windows = scorer.windows([doc])
    assert len(windows) > 10 and all(len(w.ids) <= 30 for w in windows)
    assert sum(len(w.ids) for w in windows) == sum(len(tok(s.text, add_special_tokens=False)["input_ids"]) for s in doc.sentences)
    [s] = scorer.score_docs([doc], max_windows=7)  # slices of 7 windows: bounded memory
    assert abs(sum(s.probs.values()) - 1) < 1e-3 and -1 <= s.score <= 1


def test_one_megabyte_text_is_scored_in_chunks(trained):
    net, tok, _ = trained
    scorer = SentimentScorer(net, tok, {"labels": list(LABELS), "prefix": "", "max_len": 64, "name": "tiny"}, threads=1)
    doc = build_document("质量很好物流很快。" * 111_112)  # ≈1,000,000 characters
    [s] = scorer.score_docs([doc], max_windows=512)
    assert s.label in LABELS and 0 <= s.confidence <= 1


def test_scores_follow_the_contract(trained):
    net, tok, _ = trained
    scorer = SentimentScorer(net, tok, {"labels": list(LABELS), "prefix": "", "name": "tiny"}, threads=1)
    for s in scorer.score_docs([build_document(t) for t in ("好很棒好棒", "差太烂坏差", "的一是了在")]):
        assert s.score == pytest.approx(s.probs["positive"] - s.probs["negative"], abs=1e-3)
        assert s.confidence == max(s.probs.values()) and s.label == max(s.probs, key=s.probs.get)

