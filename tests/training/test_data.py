"""Labeled data: label schemes, validation, skipped rows, splits (training/data.py)."""
import pytest

from models.classifier import LABELS
from nlp.files import InputError
from tests.labeled import synthetic
from training.data import MIN_EVAL_ROWS, LabelError, TooLittleData, build_labeled_set, plan_split, read_labeled, split


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



def test_too_few_rows_to_train_or_to_promote_on_are_refused_before_training():
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

