"""Training pipeline, model files and the scorer on a tiny model (seconds, no real weights)."""
import random

import pytest
import torch

from models.classifier import LABELS, dequantize_rows, load_net, quantize_rows, save_model_dir
from models.sentiment import SentimentScorer
from nlp.document import build_document
from nlp.files import InputError
from tests.tiny import tiny_net, tiny_tokenizer
from training.data import Example, LabelError, build_labeled_set, read_labeled, split
from training.trainer import TrainConfig, fine_tune

POS, NEG, NEU = "好很棒快便宜", "差太烂坏慢贵", "的一是了在有"


def synthetic(n: int, seed: int = 0) -> list[Example]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        label = LABELS[i % 3]
        chars = {"positive": POS, "negative": NEG, "neutral": NEU}[label]
        out.append(Example("".join(rng.choice(chars + NEU) for _ in range(rng.randint(4, 12))) + chars[i % len(chars)] * 2, label))
    return out


@pytest.fixture(scope="module")
def trained():
    train, dev = synthetic(600, 1), synthetic(90, 2)
    net, tok = tiny_net(), tiny_tokenizer()
    cfg = TrainConfig(epochs=3, batch_size=32, lr=2e-3, head_lr=5e-3, eval_every=20, patience=10, max_len=32, prefix="", threads=1)
    metrics = fine_tune(net, tok, train, dev, cfg, log=lambda m: None)
    return net, tok, metrics


def test_fine_tune_learns_and_reports(trained):
    net, _, metrics = trained
    assert metrics["dev"]["accuracy"] >= 0.9, metrics["dev"]
    assert metrics["history"] and metrics["steps"] > 0
    assert not net.encoder.embeddings.word_embeddings.weight.requires_grad  # frozen


def test_model_dir_round_trip_and_plain_transformers(trained, tmp_path):
    net, tok, _ = trained
    save_model_dir(net, tmp_path / "m", {"labels": list(LABELS), "prefix": "", "name": "tiny@1"}, delta_only=False)
    loaded, meta = load_net(tmp_path / "m")
    ids = torch.tensor([tok("好很棒")["input_ids"]])
    mask = torch.ones_like(ids)
    with torch.inference_mode():
        assert torch.allclose(net.eval()(ids, mask), loaded(ids, mask), atol=1e-5)
    from transformers import BertModel  # the encoder alone loads with plain transformers
    assert isinstance(BertModel.from_pretrained(tmp_path / "m" / "encoder"), BertModel)
    assert meta["name"] == "tiny@1"


def test_int8_rows_are_close():
    w = {"layer.weight": torch.randn(64, 32), "layer.bias": torch.randn(64)}
    back = dequantize_rows(quantize_rows(w))
    assert quantize_rows(w)["layer.weight"].dtype == torch.int8
    cos = torch.nn.functional.cosine_similarity(back["layer.weight"], w["layer.weight"]).min()
    assert cos > 0.999


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


# --- labeled data validation -------------------------------------------------
def test_label_schemes():
    assert build_labeled_set([("a", "5"), ("b", "3"), ("c", "1.0")]).counts == {"negative": 1, "neutral": 1, "positive": 1}
    assert build_labeled_set([("a", 0), ("b", 1)]).scheme == "binary 0/1"
    assert build_labeled_set([("a", "Positive"), ("b", "差评")]).counts["negative"] == 1


def test_unknown_labels_are_listed():
    with pytest.raises(LabelError) as info:
        build_labeled_set([("a", "positive"), ("b", "great"), ("c", "meh")])
    assert "'great'" in str(info.value) and "'meh'" in str(info.value)


def test_conflicts_duplicates_and_small_classes_are_reported():
    ls = build_labeled_set([("same", "positive"), ("same", "negative"), ("dup", "negative"), ("dup", "negative"),
                            ("x", "positive"), ("", "positive")])
    text = " ".join(ls.warnings)
    assert "conflicting" in text and "duplicate" in text and "only" in text
    assert ls.skipped == ["row 6: empty text"]
    assert {e.text for e in ls.examples} == {"dup", "x"}


def test_missing_columns_are_named(tmp_path):
    f = tmp_path / "l.csv"
    f.write_text("review,stars\n好,5\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_labeled(f)
    assert "review" in str(info.value) and "stars" in str(info.value)
    assert "--text-col" in str(info.value)


def test_skipped_rows_are_reported_in_file_order_with_their_row_numbers(tmp_path):
    f = tmp_path / "l.csv"  # data rows: 1 ok, 2 an unclosed quote, 3 ok, 4 no text, 5 no label, 6 ok
    f.write_text('text,label\n物流很快,好评\n"broken\n太差了,差评\n,差评\n还行,\n好,好评\n此用户没有填写评价。,好评\n',
                 encoding="utf-8")
    ls = read_labeled(f, purpose="evaluation")
    assert [e.text for e in ls.examples] == ["物流很快", "太差了", "好"]
    assert [s.split(":")[0] for s in ls.skipped] == ["row 2", "row 4", "row 5", "row 7"]
    assert "placeholder" in ls.skipped[3]  # a platform's stand-in for a missing review is neither trained nor measured
    assert "empty text" in ls.skipped[1] and "empty label" in ls.skipped[2]
    assert all("too few examples to trust" in w for w in ls.warnings)  # not "the model will learn it poorly"
    f.write_text("text,label\n,好评\nx,\n", encoding="utf-8")
    with pytest.raises(LabelError, match="row 1: empty text; row 2: empty label"):
        read_labeled(f)


def test_split_is_stratified():
    train, dev = split(synthetic(300), 0.1, seed=1)
    assert {e.label for e in dev} == set(LABELS) and len(train) + len(dev) == 300


def test_onnx_graphs_share_one_embedding_table_and_stale_graphs_go(tmp_path):
    import copy

    import torch

    from models.onnx_engine import GRAPH_VERSION, OnnxNet, export, remove_stale, table_path

    first = tiny_net(seed=1).eval()
    second = copy.deepcopy(first)  # a retrained version: same frozen word embeddings, other layers
    with torch.no_grad():
        second.head.out.weight.add_(0.5)
    (tmp_path / "old-g2.onnx").write_bytes(b"x")
    (tmp_path / "old-g2.emb.npy").write_bytes(b"x")
    for name, net in (("a", first), ("b", second)):
        export(net.encoder, tmp_path / f"{name}-g{GRAPH_VERSION}.onnx", token_head=net.head.out)
    assert {p.name for p in remove_stale(tmp_path)} == {"old-g2.onnx", "old-g2.emb.npy"}  # the table is in use
    assert not list(tmp_path.glob("old-*"))
    tables = list(tmp_path.glob("table-*.npy"))
    assert len(tables) == 1 and table_path(tmp_path / f"b-g{GRAPH_VERSION}.onnx") == tables[0]

    ids = torch.tensor([[0, 5, 6, 7, 2], [0, 8, 2, 1, 1]])
    mask = (ids != 1).long()
    seqs = [[0, 5, 6, 7, 2], [0, 8, 2]]
    for name, net in (("a", first), ("b", second)):
        with torch.inference_mode():
            want = net(ids, mask).numpy()
        got = OnnxNet(tmp_path / f"{name}-g{GRAPH_VERSION}.onnx", threads=1).pooled(seqs, budget=1024, max_rows=8)
        assert abs(got - want).max() < 1e-4


def test_graph_cache_keeps_the_most_recently_used_model_versions(tmp_path):
    import os

    from models.onnx_engine import GRAPH_VERSION, KEEP_MODEL_GRAPHS, remove_stale

    names = [f"{k:016x}-g{GRAPH_VERSION}" for k in range(KEEP_MODEL_GRAPHS + 2)]
    for age, name in enumerate(names):  # names[0] was used last
        for suffix in (".onnx", ".table", "-int8t.onnx", "-int8t.table"):
            (tmp_path / (name + suffix)).write_text("table-x.npy" if suffix.endswith("table") else "graph")
            os.utime(tmp_path / (name + suffix), (1e9 - age * 100, 1e9 - age * 100))
    (tmp_path / f"e5-base-embed-v1-g{GRAPH_VERSION}.onnx").write_text("graph")  # not a model version
    os.utime(tmp_path / f"e5-base-embed-v1-g{GRAPH_VERSION}.onnx", (1, 1))
    removed = {p.name for p in remove_stale(tmp_path)}
    assert removed == {n + s for n in names[KEEP_MODEL_GRAPHS:] for s in (".onnx", ".table", "-int8t.onnx", "-int8t.table")}
    assert {p.name for p in tmp_path.glob("*.onnx")} == ({f"{n}{s}" for n in names[:KEEP_MODEL_GRAPHS] for s in (".onnx", "-int8t.onnx")}
                                                         | {f"e5-base-embed-v1-g{GRAPH_VERSION}.onnx"})


def test_packed_rows_score_each_sequence_as_if_alone(tmp_path):
    """Several sequences laid end to end in one row (the API's small batches) give the same logits as
    each sequence run on its own, and the planner packs a small mixed set but pads a large sorted one."""
    import torch

    from models.onnx_engine import GRAPH_VERSION, OnnxNet, export, plan_calls

    net = tiny_net(seed=3).eval()
    path = tmp_path / f"n-g{GRAPH_VERSION}.onnx"
    export(net.encoder, path, token_head=net.head.out)
    onnx = OnnxNet(path, threads=1)
    rng = random.Random(0)
    seqs = [[0] + [rng.randint(5, 60) for _ in range(rng.randint(1, 30))] + [2] for _ in range(9)]
    plan = plan_calls([len(s) for s in seqs], budget=1024, max_rows=128)
    assert len(plan) == 1 and any(len(row) > 1 for row in plan[0])  # packed: fewer rows than sequences
    together = onnx.pooled(seqs, budget=1024, max_rows=128)
    for s, got in zip(seqs, together):
        with torch.inference_mode():
            alone = net(torch.tensor([s]), torch.ones(1, len(s), dtype=torch.long)).numpy()[0]
        assert abs(got - alone).max() < 1e-4
    # two workers: the one call is split in two, run at once; the same numbers come back in the same order
    assert abs(OnnxNet(path, threads=2).pooled(seqs, budget=1024, max_rows=128) - together).max() < 1e-5
    many = plan_calls([30 + k % 3 for k in range(600)], budget=1024, max_rows=128)
    assert all(len(row) == 1 for call in many for row in call)  # long sorted run: padded rows
    assert sorted(i for call in many for row in call for i in row) == list(range(600))


def test_planner_counts_the_width_step_that_bf16_calls_round_up_to():
    """bf16 calls pad each row to a multiple of 16 tokens. 600 sequences of 17–20 tokens padded one per row
    would compute 32 each (60% waste); knowing the step, the planner packs them ~3 to a 64-token row."""
    from models.onnx_engine import plan_calls

    lengths = [17 + k % 4 for k in range(600)]

    def computed(plan, step):
        return sum(len(call) * -(-max(sum(lengths[i] for i in row) for row in call) // step) * step for call in plan)

    blind, aware = plan_calls(lengths, 1024, 128), plan_calls(lengths, 1024, 128, step=16)
    assert sorted(i for call in aware for row in call for i in row) == list(range(600))
    assert computed(blind, 16) >= 1.5 * sum(lengths)  # what the step cost before the planner knew of it
    assert computed(aware, 16) <= 1.2 * sum(lengths)  # 3 of 17–20 tokens to a 64-token row
    # a micro-batch of 4 short reviews: one row of 112 tokens, not two rows of 64 (two half-empty)
    assert plan_calls([28, 25, 24, 23], 1024, 128, step=16) == [[[0, 1, 2, 3]]]


def test_padded_batches_cover_every_row_once_and_do_not_pad_short_rows_to_long_ones():
    from models.onnx_engine import padded_batches

    seqs = [[7] * 5, [7] * 100, [7] * 5, [7] * 6, [7] * 5]
    batches = list(padded_batches(seqs, pad_id=1, budget=1024, max_rows=128))
    assert [ids.shape for _, ids, _ in batches] == [(4, 6), (1, 100)]  # not 5 × 100 padded tokens
    seen = sorted(i for chunk, _, _ in batches for i in chunk)
    assert seen == list(range(len(seqs)))
    for chunk, ids, mask in batches:
        for r, i in enumerate(chunk):
            assert mask[r].sum() == len(seqs[i]) and (ids[r, :len(seqs[i])] == 7).all() and (ids[r, len(seqs[i]):] == 1).all()
    rng = random.Random(0)
    many = [[7] * rng.randint(1, 300) for _ in range(500)]
    batches = list(padded_batches(many, pad_id=1, budget=1024, max_rows=64))
    assert sorted(i for chunk, _, _ in batches for i in chunk) == list(range(500))
    assert all(ids.size <= 1024 or len(chunk) == 1 for chunk, ids, _ in batches) and all(len(c) <= 64 for c, _, _ in batches)


def test_int8_graph_is_close_to_fp32_and_a_sequence_scores_the_same_in_any_company(tmp_path):
    """The int8 engine scales activations per token, so a sequence packed or batched with others gets the
    outputs it gets alone. The int8 graph is made once, next to the fp32 one; graphs of the old per-call
    int8 format are stale."""
    import torch

    from models.onnx_engine import GRAPH_VERSION, INT8_TAG, OnnxNet, export, remove_stale
    from models.quantize import per_token_int8

    net = tiny_net(seed=4).eval()
    path = tmp_path / f"n-g{GRAPH_VERSION}.onnx"
    export(net.encoder, path, token_head=net.head.out)
    assert per_token_int8(path, tmp_path / "all.onnx", fp32_down_layers=0) == 2 * 6  # Q, K, V, O, FFN up, down
    assert per_token_int8(path, tmp_path / "kept.onnx", fp32_down_layers=1) == 2 * 6 - 1
    int8 = OnnxNet(path, threads=2, precision="int8")
    assert (tmp_path / f"n-g{GRAPH_VERSION}{INT8_TAG}.onnx").exists()
    rng = random.Random(1)
    seqs = [[0] + [rng.randint(5, 60) for _ in range(rng.randint(1, 30))] + [2] for _ in range(12)]
    together = int8.pooled(seqs, budget=1024, max_rows=128)
    for k, s in enumerate(seqs):
        assert abs(int8.pooled([s], budget=1024, max_rows=128)[0] - together[k]).max() < 1e-5
        with torch.inference_mode():
            exact = net(torch.tensor([s]), torch.ones(1, len(s), dtype=torch.long)).numpy()[0]
        assert abs(together[k] - exact).max() < 0.05 * max(1.0, abs(exact).max())
    old = tmp_path / f"n-g{GRAPH_VERSION}-int8.onnx"  # the per-call int8 of earlier versions
    old.write_bytes(b"x")
    assert old in remove_stale(tmp_path) and (tmp_path / f"n-g{GRAPH_VERSION}{INT8_TAG}.onnx").exists()


def test_bf16_engine_is_close_to_fp32_and_chosen_only_where_asked_or_native(tmp_path, monkeypatch):
    """OpenVINO with bf16 matrix products (the default with AMX or AVX-512 BF16) gives the fp32 graph's outputs to
    bf16 precision, for packed and batched rows alike; VOC_ENGINE picks the engine and refuses unknown names.
    (Without native bf16, OpenVINO may compute in fp32: the test then still checks the runner and packing.)"""
    import models.onnx_engine as engine
    from models.onnx_engine import GRAPH_VERSION, OnnxNet, export

    net = tiny_net(seed=5).eval()
    path = tmp_path / f"n-g{GRAPH_VERSION}.onnx"
    export(net.encoder, path, token_head=net.head.out)
    rng = random.Random(2)
    seqs = [[0] + [rng.randint(5, 60) for _ in range(rng.randint(1, 30))] + [2] for _ in range(12)]
    exact = OnnxNet(path, threads=2, precision="fp32").pooled(seqs, budget=1024, max_rows=128)
    bf16 = OnnxNet(path, threads=2, precision="bf16")
    assert bf16.precision == "bf16"
    together = bf16.pooled(seqs, budget=1024, max_rows=128)
    assert abs(together - exact).max() < 0.05 * max(1.0, abs(exact).max())
    for k in (0, 5, 11):
        assert abs(bf16.pooled([seqs[k]], budget=1024, max_rows=128)[0] - exact[k]).max() < 0.05 * max(1.0, abs(exact).max())
    with pytest.raises(ValueError, match="precision"):
        OnnxNet(path, threads=1, precision="int4")
    # int8 weights on OpenVINO: close to fp32, and a row's result does not depend on its batch
    w8 = OnnxNet(path, threads=2, precision="ov-int8")
    together = w8.pooled(seqs, budget=1024, max_rows=128)
    assert abs(together - exact).max() < 0.05 * max(1.0, abs(exact).max())
    for k in (0, 5, 11):
        assert abs(w8.pooled([seqs[k]], budget=1024, max_rows=128)[0] - together[k]).max() < 1e-5

    monkeypatch.setenv("VOC_ENGINE", "auto")
    amd, intel = "AuthenticAMD", "GenuineIntel"
    for vendor, flags, chosen in ((intel, {"avx2", "amx_bf16", "amx_tile"}, "bf16"), (amd, {"avx512f", "avx512_bf16"}, "bf16"),
                                  # AMX hidden or absent: bf16 measured slower, int8 on OpenVINO faster
                                  (intel, {"avx512f", "avx512_bf16", "avx512_vnni"}, "ov-int8"),
                                  (intel, {"avx2", "avx512f", "avx512_vnni"}, "ov-int8"), (amd, {"avx2", "avx512_vnni"}, "int8"),
                                  (intel, {"avx2"}, "int8"), ("", set(), "int8")):
        monkeypatch.setattr(engine, "cpu_info", lambda vendor=vendor, flags=flags: (vendor, frozenset(flags)))
        assert engine.default_engine() == chosen, (vendor, flags)
    # the last flags (none) stay patched: the lines below run as on a CPU without native bf16
    monkeypatch.delenv("VOC_ENGINE")
    assert engine.default_engine() == "int8"
    monkeypatch.setenv("VOC_ENGINE", "bf16")
    assert engine.default_engine() == "bf16"
    monkeypatch.setenv("VOC_ENGINE", "fast")
    with pytest.raises(ValueError, match="VOC_ENGINE"):
        engine.default_engine()


def test_vader_sentences_are_read_with_their_rating_bands():
    from collections import Counter

    from training.recipes import vader_snippets

    rated = vader_snippets()
    counts = Counter(e.label for e in rated)
    assert counts == {"positive": 8541, "negative": 6935, "neutral": 1207}
    assert all(e.text.strip() for e in rated)
    assert len(vader_snippets(0.0, 0.0)) == 3708 + 10605 + 4200  # every sentence, for distillation


def test_model_soup_is_the_mean_of_the_members_weights():
    import torch

    from training.run import average_weights

    a, b = tiny_net(seed=5), tiny_net(seed=6)
    want = {k: (v + b.state_dict()[k]) / 2 for k, v in a.state_dict().items() if v.dtype.is_floating_point}
    average_weights([a, b])
    for k, v in a.state_dict().items():
        if k in want:
            assert torch.allclose(v, want[k])


def test_fast_student_adds_the_logits_of_known_token_pairs_in_order():
    """fastText-style pairs: "not good" gets its own logits on top of "not" and "good", only in that order,
    only within one text, divided by the token count as in distillation."""
    import numpy as np

    from models.fast import FastScorer, adjacent_pairs

    words = ["not", "good", "bad"]
    vectors = np.array([[0.0, 1.0], [2.0, 0.0], [-2.0, 0.0], [0.0, 0.0]], np.float32)  # + the zero row
    coef = np.array([[-1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], np.float32)  # negative, neutral, positive
    n = len(vectors)
    pair = (np.array([0 * n + 1]), np.array([[4.0, 0.0, -4.0]], np.float32))  # "not good" leans negative
    plain = FastScorer(None, vectors, np.zeros(10, np.int64), coef, np.zeros(3, np.float32), {}, words=words)
    paired = FastScorer(None, vectors, np.zeros(10, np.int64), coef, np.zeros(3, np.float32), {}, words=words,
                        pairs=pair)
    texts = ["not good", "good not", "good"]
    a, b = plain.score_texts(texts), paired.score_texts(texts)
    assert b[0].score < a[0].score - 0.5 and b[0].label == "negative"  # the pair counted, over 2 tokens
    assert [x.score for x in a[1:]] == [x.score for x in b[1:]]  # reversed order, or a single word: no pair
    keys, text_of = adjacent_pairs(np.array([0, 1, 0, 1]), np.array([0, 2]), n)
    assert keys.tolist() == [1, 1] and text_of.tolist() == [0, 1]  # no pair across the two texts


def test_distillation_augments_the_corpus_with_its_clauses_and_mixes_of_its_sentences():
    import numpy as np

    from training.distill import augmented

    corpus = ["物流很快，但是质量很差", "包装完好，客服态度好", "非常满意", "The battery died after a week.",
              "Great screen and the price is fair.", "love", "Shipping was slow but support was helpful."]
    out = augmented(corpus, np.random.default_rng(0), clauses=100, mixes={"zh": 5, "en": 7})
    clauses, mixes = out[:-12], out[-12:]
    assert {"物流很快", "但是质量很差", "包装完好", "客服态度好", "Shipping was slow"} <= set(clauses)
    assert not set(clauses) & set(corpus)  # nothing the corpus already holds
    def joined(text, parts, sep):  # how many of `parts` (repeats allowed) joined by `sep` make `text`, or 0
        if text in parts:
            return 1
        return max((1 + joined(text[len(p) + len(sep):], parts, sep) for p in parts
                    if text.startswith(p + sep) and joined(text[len(p) + len(sep):], parts, sep)), default=0)

    assert all(2 <= joined(m, corpus[:3], "，") <= 3 for m in mixes[:5])
    english = [s for s in corpus[3:] if len(s.split()) >= 4]  # the lexicon word "love" is not a sentence
    assert all(2 <= joined(m, english, " ") <= 6 for m in mixes[5:])
    capped = augmented(corpus, np.random.default_rng(0), clauses=2, mixes={"zh": 0, "en": 0})
    assert len(capped) == 2 and set(capped) <= set(clauses)


# --- model names and the deletes that replace a model ----------------------------
@pytest.mark.parametrize("bad", ["..", ".", ".hidden", "a/b", "a\\b", "", "x" * 81, "v1.partial", "名字"])
def test_model_names_are_checked_in_one_place(bad):
    from models import registry

    with pytest.raises(registry.InvalidName):
        registry.check_name(bad)
    with pytest.raises(registry.InvalidName):
        registry.register_dir(bad)


def test_a_good_name_is_a_folder_of_the_models_directory():
    from models import registry

    assert registry.register_dir("voc-custom@2026-11-01.120000").parent == registry.models_dir()


def test_replacing_a_model_never_deletes_outside_its_folder(voc_home):
    """"." and ".." once made the replacement of a model delete every model, or all of VOC_HOME."""
    from models import registry
    from models.paths import remove_tree
    from training.run import publish_dir

    models = registry.models_dir()
    (models / "kept").mkdir()
    (voc_home / "voc.db").write_text("data")
    for target in (models / "..", models / ".", models, voc_home, models / "kept" / ".."):
        with pytest.raises(ValueError, match="refusing to delete"):
            remove_tree(target, models)
        with pytest.raises(ValueError, match="refusing to delete"):
            publish_dir(target, lambda tmp: tmp.mkdir(), root=models)
    assert (models / "kept").is_dir() and (voc_home / "voc.db").read_text() == "data"
    publish_dir(models / "new", lambda tmp: (tmp.mkdir(), (tmp / "w").write_text("1")), root=models)
    publish_dir(models / "new", lambda tmp: (tmp.mkdir(), (tmp / "w").write_text("2")), root=models)
    assert (models / "new" / "w").read_text() == "2" and not (models / "new.partial").exists()


def test_a_training_job_checks_the_name_itself(tmp_path):
    from api.jobs import JobError, TrainingJobs

    jobs = TrainingJobs(tmp_path / "jobs", on_promoted=lambda: None)
    with pytest.raises(JobError) as info:
        jobs.start([("好", "positive")] * 30, "..", 1.0, False, False)
    assert info.value.status == 422 and info.value.code == "invalid_name"
    assert not list((tmp_path / "jobs").iterdir())  # nothing started


def test_too_few_rows_to_train_or_to_promote_on_are_refused_before_training():
    from training.data import MIN_EVAL_ROWS, TooLittleData, plan_split

    two = build_labeled_set([("外卖送得很快", "positive"), ("汤洒了一半", "negative")])
    with pytest.raises(TooLittleData, match="at least 20"):
        plan_split(two)
    forty = build_labeled_set([(e.text + str(i), e.label) for i, e in enumerate(synthetic(40))])
    train, dev = plan_split(forty)
    assert len(train) + len(dev) == 40 and dev
    with pytest.raises(TooLittleData, match=f"at least {MIN_EVAL_ROWS} evaluation rows"):
        plan_split(forty, promote=True)
    many = build_labeled_set([(e.text + str(i), e.label) for i, e in enumerate(synthetic(400))])
    assert len(plan_split(many, promote=True)[1]) >= MIN_EVAL_ROWS
    assert plan_split(forty, held_out=many, promote=True) == (forty.examples, many.examples)
