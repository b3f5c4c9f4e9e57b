"""The inference runtime (models/runtime/): graph export and cache, call planning, the int8 rewrites, the ONNX
Runtime and OpenVINO backends, the engine choice. On tiny graphs: seconds, no real weights."""
import copy
import os
import random
from pathlib import Path

import pytest
import torch

from models.clause_heads import HEADS_FILE
from models.fast import FAST_FILE
from models.flag_heads import FLAG_HEADS_FILE
from models.runtime import hardware
from models.runtime.backends import OnnxNet
from models.runtime.export import (GRAPH_VERSION, INT8_TAG, KEEP_MODEL_GRAPHS, OUTSIDE_GRAPH, export, remove_stale,
                                   table_path)
from models.runtime.planner import padded_batches, plan_calls
from models.runtime.quantize import per_token_int8
from tests.tiny import tiny_net


def test_onnx_graphs_share_one_embedding_table_and_stale_graphs_go(tmp_path):
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


def test_bf16_engine_is_close_to_fp32(tmp_path):
    """OpenVINO with bf16 matrix products (the default with AMX or AVX-512 BF16) gives the fp32 graph's outputs to
    bf16 precision, for packed and batched rows alike. (Without native bf16, OpenVINO may compute in fp32: the test
    then still checks the runner and packing.)"""
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


def test_the_engine_is_chosen_only_where_asked_or_native(monkeypatch):
    """The setting (Settings.engine, VOC_ENGINE: tests/api/test_settings.py) picks the engine; "auto" picks by the
    CPU's flags, and unknown names are refused. The runtime itself never reads the environment."""
    amd, intel = "AuthenticAMD", "GenuineIntel"
    for vendor, flags, chosen in ((intel, {"avx2", "amx_bf16", "amx_tile"}, "bf16"), (amd, {"avx512f", "avx512_bf16"}, "bf16"),
                                  # AMX hidden or absent: bf16 measured slower, int8 on OpenVINO faster
                                  (intel, {"avx512f", "avx512_bf16", "avx512_vnni"}, "ov-int8"),
                                  (intel, {"avx2", "avx512f", "avx512_vnni"}, "ov-int8"), (amd, {"avx2", "avx512_vnni"}, "int8"),
                                  (intel, {"avx2"}, "int8"), ("", set(), "int8")):
        monkeypatch.setattr(hardware, "cpu_info", lambda vendor=vendor, flags=flags: (vendor, frozenset(flags)))
        assert hardware.choose_engine("auto") == chosen, (vendor, flags)
        assert hardware.default_engine() == chosen
    # the last flags (none) stay patched: the lines below run as on a CPU without native bf16
    assert hardware.choose_engine() == "int8"
    assert hardware.choose_engine("bf16") == "bf16"
    monkeypatch.setenv("VOC_ENGINE", "bf16")
    assert hardware.choose_engine() == "int8"  # the environment is the entry point's to read, not the runtime's
    with pytest.raises(ValueError, match="engine"):
        hardware.choose_engine("fast")


def test_the_graph_fingerprint_skips_exactly_the_files_read_outside_the_graph():
    assert set(OUTSIDE_GRAPH) == {FAST_FILE, HEADS_FILE, FLAG_HEADS_FILE}


def test_nothing_under_models_reads_the_environment_but_its_paths():
    """Settings are read once by the entry point (api.settings) and passed down; models/paths.py alone names the
    state directories (VOC_HOME, VOC_BASE_CACHE) every process shares."""
    root = Path(__file__).resolve().parents[2] / "models"
    readers = sorted(str(p.relative_to(root)) for p in root.rglob("*.py")
                     if any(w in p.read_text(encoding="utf-8") for w in ("os.environ", "getenv(")))
    assert readers == ["paths.py"]

