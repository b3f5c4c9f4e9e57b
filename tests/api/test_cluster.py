"""`voc score --cluster` on a real 2-worker Dask LocalCluster: the rows, values and error file of a one-process run,
a worker killed mid-run, an interrupted run resumed, Parquet in and out, and the command line end to end."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")

from api.batch import cluster, score  # noqa: E402
from api.batch.cluster import AnalyzerSpec, score_on_cluster  # noqa: E402
from api.batch.score import score_file  # noqa: E402
from models.analyzer import Analyzer  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SPEC = AnalyzerSpec(mode="fast", aspects=True)
TEXTS = ["物流很快，质量很好", "Terrible quality, broke in a day", "颜色和图片不一样，太差了", "", "性价比很高",
         "客服态度差，退款很慢", "666"]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """Two one-thread worker processes, as `--cluster local:2` starts them, shared by this module's tests."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as local, \
            distributed.Client(local) as c:
        yield c


@pytest.fixture(scope="module")
def analyzer():
    return SPEC.load()


@pytest.fixture
def small_parts(monkeypatch):
    """Partitions of 2 chunks of 40 rows, so that a few hundred rows make a dozen tasks."""
    monkeypatch.setattr(score, "CHUNK", 40)
    monkeypatch.setattr(cluster, "PART_CHUNKS", 2)


def export_csv(path: Path, n: int = 900) -> Path:
    """A GBK export with a broken quote, rows with a field too many and empty reviews between good ones."""
    lines = ["编号,店铺,评价内容"]
    for i in range(n):
        if i % 97 == 7:
            lines.append(f'{i},店{i % 3},"破损的引号行')
        elif i % 89 == 5:
            lines.append(f"{i},店,多,一列")
        else:
            t = TEXTS[i % len(TEXTS)]
            lines.append(f"{i},店{i % 3},{t + (f' 第{i}单' if t else '')}")
    path.write_bytes(("\n".join(lines) + "\n").encode("gbk"))
    return path


def per_review_flags(df: pd.DataFrame) -> pd.DataFrame:
    """A one-machine output without the flags that compare a row with the rest of the batch (`duplicate`; also
    `rating_mismatch`, which needs --rating-col): a cluster run scores partitions apart and raises only the flags
    of each review on its own (docs/contract.md)."""
    batch = {"duplicate", "rating_mismatch"}
    df = df.copy()
    df["flags"] = [",".join(k for k in str(v or "").split(",") if k and k not in batch) for v in df["flags"]]
    df["flag_details"] = [json.dumps([f for f in json.loads(v or "[]") if f["kind"] not in batch], ensure_ascii=False)
                          for v in df["flag_details"]]
    return df


def one_process(analyzer, src, out, **kw):
    return score_file(analyzer, str(src), str(out), progress=False, workers=1, **kw)


def test_the_cluster_writes_what_one_process_writes(tmp_path, client, analyzer, small_parts):
    src = export_csv(tmp_path / "export.csv")
    want = one_process(analyzer, src, tmp_path / "one.csv", text_col="评价内容", id_col="编号")
    got = score_on_cluster(SPEC, "", str(src), str(tmp_path / "dask.csv"), text_col="评价内容", id_col="编号",
                           progress=False, client=client)
    assert (got.scored, got.failed, got.reasons) == (want.scored, want.failed, want.reasons)
    assert want.failed and set(want.reasons) == {"bad_row", "empty_text"}
    assert (tmp_path / "dask.csv").read_bytes() == (tmp_path / "one.csv").read_bytes()
    assert (tmp_path / "dask.csv.errors.jsonl").read_bytes() == (tmp_path / "one.csv.errors.jsonl").read_bytes()
    assert not (tmp_path / "dask.csv.parts").exists()


class KillOnce(distributed.WorkerPlugin):
    """Kills its worker process (SIGKILL, as the out-of-memory killer would) when it starts a partition after the
    first one is written: once per run (a flag file), so the worker the nanny restarts carries on."""

    def __init__(self, progress: Path, flag: Path):
        self.progress, self.flag = progress, flag

    def transition(self, key, start, finish, **kwargs):
        if finish == "executing" and str(key).startswith("voc-score") and not self.flag.exists() \
                and any(self.progress.glob("*.done.json")):
            self.flag.write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)


def test_a_worker_killed_mid_run_loses_no_row(tmp_path, client, analyzer, small_parts):
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this test module
    src = export_csv(tmp_path / "export.csv", 1200)
    out, flag = tmp_path / "dask", tmp_path / "killed"
    client.register_plugin(KillOnce(out / "_progress", flag), name="kill-once")
    try:
        got = score_on_cluster(SPEC, "", str(src), str(out), text_col="评价内容", id_col="编号", progress=False,
                               client=client)
    finally:
        client.unregister_worker_plugin("kill-once")
    assert flag.exists(), "no worker was killed"
    want = one_process(analyzer, src, tmp_path / "one.parquet", text_col="评价内容", id_col="编号")
    assert (got.scored, got.failed) == (want.scored, want.failed)
    dataset = pd.read_parquet(out)
    assert dataset["编号"].is_unique and len(dataset) == want.scored  # every row exactly once
    pd.testing.assert_frame_equal(dataset, pd.read_parquet(tmp_path / "one.parquet"))
    assert sorted(p.name for p in out.iterdir()) == [f"part-{i:06d}.parquet" for i in range(len(list(out.iterdir())))]


def test_parquet_in_dataset_out_and_resume_after_the_client_dies(tmp_path, client, analyzer, small_parts, monkeypatch):
    rows = [{"id": i, "text": TEXTS[i % len(TEXTS)] + (f" #{i}" if TEXTS[i % len(TEXTS)] else ""), "stars": i % 5 + 1}
            for i in range(700)]
    src = tmp_path / "in.parquet"
    pd.DataFrame(rows).to_parquet(src, index=False)
    out = tmp_path / "scored"
    write = cluster.Layout.write
    written = []

    def dies_after_three(self, res):
        if len(written) == 3:
            raise KeyboardInterrupt  # the client stops mid-run (Ctrl-C, a reboot)
        written.append(res.index)
        return write(self, res)

    monkeypatch.setattr(cluster.Layout, "write", dies_after_three)
    with pytest.raises(KeyboardInterrupt):
        score_on_cluster(SPEC, "", str(src), str(out), id_col="id", progress=False, client=client)
    monkeypatch.setattr(cluster.Layout, "write", write)
    kept = {i: (out / f"part-{i:06d}.parquet").stat().st_mtime_ns for i in written}
    got = score_on_cluster(SPEC, "", str(src), str(out), id_col="id", progress=False, client=client, resume=True)
    assert {i: (out / f"part-{i:06d}.parquet").stat().st_mtime_ns for i in written} == kept  # not scored again
    want = one_process(analyzer, src, tmp_path / "one.parquet", id_col="id")
    assert (got.scored, got.failed, got.reasons) == (want.scored, want.failed, want.reasons) == (600, 100, {"empty_text": 100})
    pd.testing.assert_frame_equal(pd.read_parquet(out), per_review_flags(pd.read_parquet(tmp_path / "one.parquet")))
    errors = [json.loads(x) for x in Path(str(out) + ".errors.jsonl").read_text("utf-8").splitlines()]
    assert [e["row"] for e in errors] == [i + 1 for i in range(700) if not TEXTS[i % len(TEXTS)]]
    assert not (out / "_progress").exists()


def test_a_folder_holding_other_files_is_refused_not_emptied(tmp_path, client):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"text": "很好"}, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(cluster.InputError, match="not a voc score dataset"):
        score_on_cluster(SPEC, "", str(src), str(out), progress=False, client=client)
    assert (out / "notes.txt").read_text() == "keep me"


def test_the_command_on_a_local_cluster_with_a_report(tmp_path):
    """`voc score --cluster local:2` end to end: a dataset by default, the report read from it, clear errors."""
    src = export_csv(tmp_path / "export.csv", 300)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    voc = [sys.executable, "-m", "api.cli", "score"]
    r = subprocess.run([*voc, src, "--text-col", "评价内容", "--id-col", "编号", "--mode", "fast", "--no-aspects", "-q",
                        "--cluster", "local:2", "--report", tmp_path / "r.html"], capture_output=True, text=True,
                       timeout=300, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    dataset = pd.read_parquet(tmp_path / "export.scored")
    errors = Path(str(tmp_path / "export.scored") + ".errors.jsonl").read_text("utf-8").splitlines()
    assert len(dataset) + len(errors) == 300 and set(dataset["sentiment_label"]) >= {"positive", "negative"}
    assert f"scored {len(dataset)} row(s)" in r.stderr and "report →" in r.stderr
    assert (tmp_path / "r.html").stat().st_size > 10_000
    r = subprocess.run([*voc, src, "--cluster", "yarn", "-q"], capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert r.returncode == 2 and "local:N" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([*voc, src, "--cluster", "local:2", "-q"], capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert r.returncode == 2 and "--text-col" in r.stderr and "Traceback" not in r.stderr
