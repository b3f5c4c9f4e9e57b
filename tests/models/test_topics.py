"""Topic discovery on a generated corpus with known themes, through Python and the CLI."""
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from models.topics import MIN_TEXTS, TopicError, TopicModel, discover, over_time, topic_tokens
from nlp.tokenize import is_dictionary_word
from tests.topic_corpus import corpus

VOC = str(Path(sys.executable).parent / "voc")


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    texts, themes = corpus(per_theme=40, seed=0)
    labels = ["negative"] * len(texts)
    result, model = discover(texts, [f"r{i}" for i in range(len(texts))], labels, seed=7)
    return texts, themes, result, model


def theme_of_topics(assignments, themes):
    """topic id -> the theme most of its texts come from, with that share."""
    out = {}
    for t in set(assignments) - {-1}:
        c = Counter(th for a, th in zip(assignments, themes) if a == t)
        theme, n = c.most_common(1)[0]
        out[t] = (theme, n / sum(c.values()))
    return out


def test_known_themes_come_out_as_separate_topics(fitted):
    texts, themes, result, _ = fitted
    purity = theme_of_topics(result.assignments, themes)
    assert all(share >= 0.9 for _, share in purity.values()), purity  # no topic mixes themes
    assert {theme for theme, _ in purity.values()} == set(themes)  # every theme has its own topic(s)


def test_topics_are_readable_and_follow_the_contract(fitted):
    _, _, result, _ = fitted
    out = result.to_json([f"r{i}" for i in range(len(result.assignments))])
    assert set(out) >= {"topics", "assignments"}
    for t in out["topics"]:
        assert {"id", "label", "keywords", "size", "negative_share", "aspect", "examples"} <= set(t)
        assert len(t["examples"]) == 3 and t["negative_share"] == 1.0
        words = t["label"].split(" / ")
        assert 2 <= len(words) <= 4 and all(len(w) <= 6 for w in words)  # words, not whole sentences
        assert all(w.isascii() or is_dictionary_word(w) for w in words)  # whole words, not jieba's guesses
        assert not any(a != b and a in b for a in words for b in words)  # no word inside another
        assert any("\u4e00" <= ch <= "\u9fff" for ch in t["label"])
    aspects = {t["aspect"] for t in out["topics"]}
    assert {"logistics", "customer_service"} <= aspects
    outliers = sum(1 for a in result.assignments if a == -1) / len(result.assignments)
    assert outliers < 0.15
    assert "note" not in out  # topics were found: nothing to explain


def test_label_words_name_things_not_negations_or_numbers():
    assert topic_tokens("客服没有回复，等了14天，赠品也没有") == ["客服", "回复", "赠品"]  # not 没有 or 14


def test_saved_model_assigns_new_texts_stably(fitted, voc_home):
    _, themes, result, model = fitted
    model.save("themes")
    loaded = TopicModel.load("themes")
    new = ["快递太慢了，等了8天才收到", "客服态度很差，问了5遍都不回复"]
    assigned = loaded.transform(new)
    assert assigned == model.transform(new)  # the saved model gives the same ids
    purity = theme_of_topics(result.assignments, themes)
    assert [purity[t][0] for t in assigned] == ["delivery", "service"]


def test_saved_model_from_another_bertopic_version_is_a_clear_error(fitted, voc_home):
    fitted[3].save("old")
    (voc_home / "topics" / "old" / "versions.json").write_text('{"bertopic": "0.1.0"}', encoding="utf-8")
    with pytest.raises(TopicError, match="saved with BERTopic 0.1.0.*fit it again"):
        TopicModel.load("old")


def test_texts_without_a_topic_get_a_note_saying_why():
    texts = [f"第{i}条：{t}" for i, t in enumerate(["物流很快", "质量不错", "客服很好", "包装破了", "价格太贵", "颜色不对",
                                                   "尺码偏小", "退款很慢", "电池不耐用", "屏幕有划痕", "味道一般", "发票没给"] * 2)]
    result, _ = discover(texts, [str(i) for i in range(len(texts))])
    assert set(result.assignments) == {-1}  # 24 short unrelated texts: too few for a topic of 10
    assert "no topic found" in result.to_json([str(i) for i in range(len(texts))])["note"]


@pytest.mark.parametrize("texts", [["快递太慢"] * 50, ["好"] * 5, [f"review {i}" for i in range(MIN_TEXTS - 1)]])
def test_too_few_or_duplicate_texts_are_a_clear_error(texts):
    with pytest.raises(TopicError, match="at least"):
        discover(texts, [str(i) for i in range(len(texts))])


def test_cli_topics_over_time_and_negative_only(tmp_path):
    texts, themes = corpus(per_theme=25, seed=3)
    src = tmp_path / "reviews.jsonl"
    src.write_text("".join(json.dumps({"id": f"x{i}", "text": t, "day": f"2026-11-0{1 + i % 3}", "shop": f"s{i % 2}"},
                                      ensure_ascii=False) + "\n" for i, t in enumerate(texts)), encoding="utf-8")
    out = tmp_path / "topics.json"
    r = subprocess.run([VOC, "topics", src, "--id-col", "id", "--time-col", "day", "--by", "shop", "-o", out,
                        "--seed", "5", "--mode", "fast", "--save", "cli"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    data = json.loads(out.read_text("utf-8"))
    assert len(data["assignments"]) == len(texts) and data["assignments"][0]["id"] == "x0"
    assert data["over_time"] and data["per_class"]
    assert {p["period"] for p in data["over_time"]} == {"2026-11-01", "2026-11-02", "2026-11-03"}  # calendar days
    assert len({t["id"] for t in data["topics"]} - {-1}) >= 3


def test_update_keeps_ids_and_labels_and_gives_a_new_theme_a_new_id(voc_home):
    texts, themes = corpus(per_theme=40, seed=0)
    first = [t for t, th in zip(texts, themes) if th != "service"]
    first_themes = [th for th in themes if th != "service"]
    old_result, _ = discover(first, [str(i) for i in range(len(first))], seed=7, save_as="shop")
    old_labels = {t["id"]: t["label"] for t in old_result.topics if t["id"] != -1}
    old_theme = {t: th for t, (th, _) in theme_of_topics(old_result.assignments, first_themes).items()}
    new_texts, new_themes = corpus(per_theme=40, seed=1)  # other reviews of the same themes, and service
    result, _ = discover(new_texts, [str(i) for i in range(len(new_texts))], seed=7, update="shop")
    new_theme = theme_of_topics(result.assignments, new_themes)
    assert {th for th, _ in new_theme.values()} == {"delivery", "colour", "service"}
    for t, (theme, share) in new_theme.items():
        assert share >= 0.9
        if theme == "service":  # a theme the saved model never saw: new ids, after the saved ones
            assert t not in old_labels and t > max(old_labels)
        elif t in old_theme:  # a saved topic is only ever given texts of its own theme
            assert old_theme[t] == theme
    # most reviews of the saved themes land in their saved topics (a new sub-theme may get an id of its own)
    kept = [old_theme.get(a) == th for a, th in zip(result.assignments, new_themes) if th != "service"]
    assert sum(kept) / len(kept) >= 0.7, sum(kept) / len(kept)
    labels = {t["id"]: t["label"] for t in result.topics}
    assert all(labels[t] == old_labels[t] for t in labels if t in old_labels)  # existing topics keep their labels
    service = [t for t, (th, _) in new_theme.items() if th == "service"]
    assert all("客服" in labels[t] for t in service)
    again = TopicModel.load("shop")  # the update was saved under the same name
    assert again.transform(["客服态度很差，问了3遍都不回复"])[0] in service
    assert {t: again.label(t) for t in old_labels} == old_labels


def test_topic_count_is_capped(voc_home):
    texts, _ = corpus(per_theme=40, seed=0)
    result, _ = discover(texts, [str(i) for i in range(len(texts))], seed=7, max_topics=2)
    assert len({t["id"] for t in result.topics} - {-1}) <= 2
    with pytest.raises(TopicError, match="at least 2"):
        discover(texts, [str(i) for i in range(len(texts))], max_topics=1)


def test_over_time_uses_calendar_periods():
    stamps = ["2025-08-27T15:59:42.650", "2025-08-28 09:00", "2025-09-02", "not a date", "2025-12-30T23:00:00+08:00"]
    weeks = over_time(stamps, [0, 0, 1, 1, 0], lambda t: f"t{t}", "week")
    assert [(p["period"], p["topic"], p["count"]) for p in weeks] == [("2025-W35", 0, 2), ("2025-W36", 1, 1), ("2026-W01", 0, 1)]
    months = over_time(stamps, [0, 0, 1, 1, 0], lambda t: f"t{t}")  # four months: weeks by default
    assert {p["period_type"] for p in months} == {"week"}
    assert over_time(stamps, [0] * 5, str, "month")[0] == {"period": "2025-08", "period_type": "month", "topic": 0,
                                                            "label": "0", "count": 2}
    with pytest.raises(TopicError, match="unknown period"):
        over_time(stamps, [0] * 5, str, "year")


def test_the_pipeline_parts_are_constructor_arguments():
    """As in BERTopic: the embedder, reducer, clusterer and vectorizer can be passed in; constructing loads nothing,
    and a part left out is the project's default."""
    import numpy as np
    from hdbscan import HDBSCAN
    from umap import UMAP

    seen = []

    def embed(texts):
        seen.append(list(texts))
        return np.ones((len(texts), 3), np.float32)

    clusterer = HDBSCAN(min_cluster_size=5)
    model = TopicModel(embedder=embed, clusterer=clusterer, seed=3)
    assert model.model is None and not seen
    assert model.embed(["物流很快"]).shape == (1, 3) and seen == [["物流很快"]]
    bertopic = model._bertopic(500)
    assert bertopic.hdbscan_model is clusterer
    assert isinstance(bertopic.umap_model, UMAP) and bertopic.umap_model.random_state == 3
    assert bertopic.vectorizer_model.tokenizer is topic_tokens


def test_near_duplicate_topics_merge_without_chaining():
    import numpy as np

    from models.topics import _near_duplicates

    def unit(deg):
        return np.array([np.cos(np.radians(deg)), np.sin(np.radians(deg))])
    # 0–1 and 1–2 are 40° apart (cos 0.77), 0–2 80° (0.17): a chain, not one topic
    assert _near_duplicates({0: unit(0), 1: unit(40), 2: unit(80)}) in ([[0, 1]], [[1, 2]])
    assert _near_duplicates({0: unit(0), 1: unit(10), 2: unit(20), 3: unit(90)}) == [[0, 1, 2]]
