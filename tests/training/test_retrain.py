"""`voc train` on a user's labeled file, with a tiny model: promote, refuse a worse model, roll back."""
import csv
import random

import pytest

from models import registry
from models.classifier import LABELS, save_model_dir
from tests.labeled import synthetic
from tests.tiny import tiny_net, tiny_tokenizer
from training.data import LabelError
from training.run import train_user_model
from training.trainer import TrainConfig

CFG = TrainConfig(epochs=3, batch_size=32, lr=2e-3, head_lr=5e-3, max_len=32, prefix="", eval_every=20, patience=10, threads=1)
STARS = {"positive": "5", "neutral": "3", "negative": "1"}


def write_csv(path, examples, label_of=lambda e: STARS[e.label]):
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        for e in examples:
            w.writerow([e.text, label_of(e)])
    return path


@pytest.fixture
def tiny_serving(voc_home):
    d = registry.register_dir("tiny-a")
    save_model_dir(tiny_net(), d, {"labels": list(LABELS), "prefix": "", "name": "tiny-a", "metrics": {}},
                   delta_only=False, tokenizer=tiny_tokenizer())
    registry.use("tiny-a")
    return "tiny-a"


def test_train_promote_refuse_and_roll_back(tiny_serving, tmp_path):
    good = write_csv(tmp_path / "good.csv", synthetic(450, 3))
    res = train_user_model(good, name="tiny-b", promote=True, config=CFG, log=lambda m: None)
    assert res["promoted"] and registry.serving_name() == "tiny-b"
    assert res["eval"]["new"]["macro_f1"] >= res["eval"]["serving"]["macro_f1"]
    assert res["eval"]["new"]["accuracy"] >= 0.85

    rng = random.Random(0)
    noise = write_csv(tmp_path / "noise.csv", synthetic(450, 4), label_of=lambda e: rng.choice(["1", "3", "5"]))
    worse = train_user_model(noise, eval_file=good, name="tiny-c", promote=True, config=CFG, log=lambda m: None)
    assert not worse["promoted"] and registry.serving_name() == "tiny-b"  # the better model keeps serving

    forced = train_user_model(noise, eval_file=good, name="tiny-d", promote=True, force=True, config=CFG, log=lambda m: None)
    assert forced["promoted"] and registry.serving_name() == "tiny-d"

    registry.use("tiny-b")  # roll back
    assert registry.serving_name() == "tiny-b"
    listed = {m["name"]: m for m in registry.list_models()}
    assert {"default", "tiny-a", "tiny-b", "tiny-c", "tiny-d"} <= set(listed) and listed["tiny-b"]["serving"]
    assert listed["tiny-b"]["metrics"]["eval_macro_f1"] > 0


def test_bad_labels_fail_before_training(tiny_serving, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\n很好,positive\n很差,awful\n", encoding="utf-8")
    with pytest.raises(LabelError, match="awful"):
        train_user_model(bad, name="never", config=CFG, log=lambda m: None)
    assert not registry.register_dir("never").exists()
    assert registry.serving_name() == "tiny-a"


def test_train_reads_named_columns_and_reports_skipped_rows(tiny_serving, tmp_path):
    f = tmp_path / "export.csv"
    with open(f, "w", encoding="utf-8", newline="") as out:
        w = csv.writer(out)
        w.writerow(["订单编号", "评价内容", "评分"])
        w.writerow(["0", "", "5"])  # no text: skipped and reported, the rest trains
        for i, e in enumerate(synthetic(300, 5), 1):
            w.writerow([str(i), e.text, STARS[e.label]])
    lines = []
    res = train_user_model(f, name="tiny-cols", config=CFG, log=lines.append, text_col="评价内容", label_col="评分")
    assert res["model"] == "tiny-cols" and res["eval"]["new"]["accuracy"] > 0.5
    assert any("skipped 1 row(s)" in m for m in lines) and any("row 1: empty text" in m for m in lines)


def test_unknown_model_name_is_a_clear_error():
    with pytest.raises(registry.ModelNotFound, match="voc models"):
        registry.use("nope")
