"""The conversation heads (models/conversation.py): storage, and the shipped heads measured on the held-out batches."""
import numpy as np
import pytest

from models.conversation import ConversationHeads, Linear, TurnFacts, turning_turn


def _linear(rng, n_out, n_in, softmax=False):
    # a multinomial LogisticRegression's coef_ can be Fortran-ordered: saving must not scramble it
    W = np.asfortranarray(rng.normal(size=(n_out, n_in)).astype(np.float32))
    return Linear(rng.normal(size=n_in).astype(np.float32), rng.uniform(0.5, 2, n_in).astype(np.float32), W,
                  rng.normal(size=n_out).astype(np.float32), [f"l{k}" for k in range(n_out)], softmax, [0.5] * n_out)


def test_heads_round_trip_through_safetensors(tmp_path):
    rng = np.random.default_rng(0)
    heads = ConversationHeads(_linear(rng, 2, 7), _linear(rng, 5, 9), _linear(rng, 3, 11, softmax=True),
                              _linear(rng, 3, 11), dim=4, info={"note": "x"})
    heads.save(tmp_path)
    back = ConversationHeads.load(tmp_path)
    X = rng.normal(size=(6, 11)).astype(np.float32)
    for name in ConversationHeads.HEADS:
        a, b = getattr(heads, name), getattr(back, name)
        x = rng.normal(size=(3, a.W.shape[1])).astype(np.float32)
        assert np.allclose(a.predict(x), b.predict(x), atol=1e-6) and a.labels == b.labels
    assert np.allclose(back.satisfaction.predict(X).sum(1), 1) and back.info == {"note": "x"}
    assert ConversationHeads.load(tmp_path / "nothing-here") is None


def test_turning_turn_is_the_customers_biggest_change():
    p = lambda neg, pos: np.array([neg, 1 - neg - pos, pos], np.float32)  # noqa: E731
    turns = [TurnFacts("customer", None, p(0.9, 0.05)), TurnFacts("agent", None, p(0.1, 0.1)),
             TurnFacts("customer", None, p(0.8, 0.1)), TurnFacts("agent", None, None), TurnFacts("customer", None, p(0.05, 0.9))]
    assert turning_turn(turns) == 4
    assert turning_turn(turns[:3]) is None  # a change under 0.5 is no turn


@pytest.fixture(scope="module")
def analyzer():
    from models.analyzer import Analyzer

    return Analyzer.load()


@pytest.mark.slow
def test_the_learned_heads_beat_average_sentiment_on_held_out_batches(analyzer):
    from benchmarks.chat import measure
    from training.conversation import as_turns, load_chats

    rows = load_chats("test")
    assert len({r["batch"] for r in rows}) >= 4 and {r["lang"] for r in rows} == {"zh", "en"}
    results = analyzer.analyze_chats([(str(i), as_turns(r)) for i, r in enumerate(rows)])
    m = measure(rows, results)
    learned, base = m["learned"], m["average_customer_sentiment"]
    assert learned["satisfaction_macro_f1"] >= base["satisfaction_macro_f1"] + 0.2
    assert learned["satisfaction_binary_acc"] > base["satisfaction_binary_acc"]
    assert learned["escalation_f1"] >= 0.75 and learned["resolved_f1"] >= 0.8


@pytest.mark.slow
def test_an_angry_start_that_ends_resolved_and_an_escalation(analyzer):
    ok = analyzer.analyze_chat("顾客：你们这什么破服务，快递丢了！\n客服：非常抱歉，已为您补发并加急，明天送到\n顾客：好的谢谢，解决了")
    c = ok.conversation
    assert c.resolved and not c.escalation.escalated and c.satisfaction.label != "negative"
    assert ok.sentiment == c.satisfaction and ok.chat.first.label == "negative"  # today's summary is still there
    bad = analyzer.analyze_chat("tb_8823(2024-05-03 14:20:11):\n耳机左边没声音，都三天了\n小美(2024-05-03 14:51:02):\n"
                                "亲亲这边理解您的心情呢\ntb_8823(2024-05-03 14:52:00): 我要投诉，给我转人工，不然给差评")
    c = bad.conversation
    assert c.escalation.escalated and c.escalation.turn == 2 and "投诉" in c.escalation.quote and not c.resolved
    assert c.agent.response_min["first"] == pytest.approx(30.85, abs=0.01) and 1 in c.effort.long_waits
    assert any(f.turn == 1 and f.kind == "slow" for f in c.agent.flags)
