"""The team-written corpus: every row valid, splits by writing batch (never by row), stable as batches are added."""
import sys
from pathlib import Path

from training.corpus import CORPUS_DIR, batch_split, load_corpus

sys.path.insert(0, str(CORPUS_DIR.parent))
import check  # noqa: E402  (data/corpus/check.py, the writers' checker)
import check_chats  # noqa: E402


def test_every_review_and_conversation_passes_the_writers_checker():
    assert check.main(sorted(str(p) for p in CORPUS_DIR.glob("*.jsonl"))) == 0
    assert check.main(sorted(str(p) for p in (CORPUS_DIR.parent / "chats").glob("*.jsonl")), check_chats.problems) == 0


def test_splits_are_whole_batches_and_cover_the_corpus():
    splits = {s: load_corpus(s) for s in ("train", "dev", "test")}
    batches = {s: {r["batch"] for r in rows} for s, rows in splits.items()}
    assert not (batches["train"] & batches["dev"]) and not (batches["train"] & batches["test"])
    assert not (batches["dev"] & batches["test"])
    assert sum(map(len, splits.values())) == len(load_corpus()) >= 5000
    assert all(batches.values())
    # a batch's split is a function of its name alone
    assert batch_split("zh_apparel_w1_01") == batch_split("zh_apparel_w1_01")


def test_evidence_offsets_point_into_the_text():
    for row in load_corpus("test"):
        for a in row["aspects"]:
            assert row["text"][a["start"]:a["end"]] == a["evidence"]


def test_a_bad_row_is_reported_with_its_line(tmp_path, capsys):
    bad = tmp_path / "zh_x_w0_01.jsonl"
    bad.write_text('{"text": "物流很快", "lang": "zh", "domain": "apparel", "overall": "positive", '
                   '"aspects": [{"aspect": "logistics", "label": "positive", "evidence": "物流超快"}]}\n', encoding="utf-8")
    assert check.main([str(bad)]) == 1
    assert f"{bad}:1: evidence '物流超快' is not an exact substring" in capsys.readouterr().out
