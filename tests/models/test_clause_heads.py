"""The learned aspect heads: clause token ranges, one encoder pass, training, saving, and the hard cases."""
import json
from pathlib import Path

import numpy as np
import pytest

from models.clause_heads import ClauseHeads
from models.encoder import ensure_base_model, text_tokenizer
from models.sentiment import SentimentScorer
from nlp.document import build_document

DATA = Path(__file__).resolve().parents[1] / "data"


class NoNet:
    precision = "fp32"  # what SentimentScorer reads of an engine; windows() never calls it


@pytest.fixture(scope="module")
def scorer():
    return SentimentScorer(NoNet(), text_tokenizer(ensure_base_model()), {"max_len": 128})


def _decoded(scorer, ids):
    return scorer.tokenizer.backend.decode(ids).replace(" ", "")


@pytest.mark.parametrize("text", [
    "物流很快，但是衣服有色差，客服也不回消息",
    "雖然價格有點貴，但是品質沒話說！！",
    "Arrived two days late and the box was crushed, but the blender works great.",
    "颜色很nice，就是size偏大，只能换货了",
])
def test_each_clause_gets_the_tokens_of_its_own_text(scorer, text):
    doc = build_document(text, spans=True)
    [window] = scorer.windows([doc], clauses=True)
    assert [c for c, _, _ in window.clauses] == list(range(len(doc.clauses)))
    for c, a, b in window.clauses:
        assert 0 <= a < b <= len(window.ids)
        got, want = _decoded(scorer, window.ids[a:b]), doc.clauses[c].text.replace(" ", "")
        assert got == want or (want in got and len(got) <= len(want) + 2), (got, want)


def test_a_long_review_reads_every_clause_once_across_its_windows(scorer):
    sentences = [f"第{i}次买这家的东西，质量一直很稳定，物流也快。" for i in range(60)]
    doc = build_document("".join(sentences), spans=True)
    windows = scorer.windows([doc], clauses=True)
    assert len(windows) > 1
    seen = [c for w in windows for c, _, _ in w.clauses]
    assert sorted(seen) == list(range(len(doc.clauses)))
    for w in windows:
        for c, a, b in w.clauses:
            assert _decoded(scorer, w.ids[a:b]) == doc.clauses[c].text.replace(" ", "")


def _synthetic(n_reviews, dim=16, seed=0):
    """Reviews of two clauses; a clause about logistics has a large first feature, its polarity the second."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n_reviews):
        about = i % 2 == 0
        positive = i % 4 == 0
        text = "物流很快，质量一般" if about else "颜色好看，质量一般"
        doc = build_document(text, spans=True)
        feats = [rng.normal(size=dim).astype(np.float32) for _ in doc.clauses]
        labels = [{} for _ in doc.clauses]
        if about:
            feats[0][0] += 6.0
            feats[0][1] += 4.0 if positive else -4.0
            labels[0] = {"logistics": "positive" if positive else "negative"}
        row = {"text": text, "aspects": [{"aspect": "logistics", "label": labels[0]["logistics"], "evidence": "物流很快",
                                          "start": 0, "end": 4}] if about else []}
        out.append((row, doc, feats, labels, None))
    return out


def test_heads_learn_calibrate_and_survive_saving(tmp_path):
    from training.clause_heads import calibrate, evaluate, fit_heads

    train, dev, test = _synthetic(200, seed=1), _synthetic(80, seed=2), _synthetic(80, seed=3)
    heads = fit_heads(train, keys=["logistics", "price"], layer=6)
    heads.thresholds = calibrate(heads, dev).astype(np.float32)
    report = evaluate(heads, test)
    assert report["micro_f1"] >= 0.95 and report["polarity"] >= 0.95, report
    heads.save(tmp_path)
    again = ClauseHeads.load(tmp_path)
    feats = np.stack([f for _, _, fs, _, _ in test for f in fs])
    for a, b in zip(heads.predict(feats), again.predict(feats)):
        assert np.allclose(a, b, atol=1e-6)
    assert again.keys == ["logistics", "price"] and again.layer == 6


def test_a_model_without_heads_has_none(tmp_path):
    assert ClauseHeads.load(tmp_path) is None


@pytest.mark.slow
def test_aspects_come_from_the_sentiment_pass_alone(monkeypatch):
    from models.analyzer import Analyzer

    analyzer = Analyzer.load()
    assert analyzer.learned

    def refuse(*a, **k):
        raise AssertionError("a second model pass ran")

    monkeypatch.setattr(analyzer.scorer, "score_texts", refuse)
    monkeypatch.setattr(analyzer.scorer, "score_docs", refuse)
    [res] = analyzer.analyze([("t", "快递太慢了，等了一个星期，衣服质量还可以")])
    assert res.aspects and all(res.text[a.start:a.end] == a.evidence for a in res.aspects)


@pytest.mark.slow
def test_team_written_hard_cases():
    """Negated defects, contrast both ways, sarcasm, implicit aspects and statements without an opinion
    (tests/data/hard_cases.jsonl, 66 team-written reviews): the review's label, and every expected aspect with
    its polarity (none where none is expected)."""
    from models.analyzer import Analyzer

    rows = [json.loads(x) for x in (DATA / "hard_cases.jsonl").open(encoding="utf-8")]
    results = Analyzer.load().analyze([(str(i), r["text"]) for i, r in enumerate(rows)])
    overall = aspects = 0
    for r, res in zip(rows, results):
        got = {a.aspect: a.label for a in res.aspects}
        overall += res.sentiment.label == r["overall"]
        aspects += all(got.get(k) == v for k, v in r["aspects"].items()) and bool(r["aspects"] or not got)
    assert overall >= HARD_OVERALL and aspects >= HARD_ASPECTS, (overall, aspects, len(rows))


# the shipped model gets 51 and 52 of the 66 right on the bf16 engine; 2 of slack for the other engines
HARD_OVERALL, HARD_ASPECTS = 49, 50
