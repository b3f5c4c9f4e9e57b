"""The similarity aspect model (fast mode, and the aspects a user's taxonomy adds to a learned model) on the hard
cases keyword matching gets wrong (real default scorer). The learned heads have tests/models/test_clause_heads.py."""
import json

import pytest

from models.analyzer import Analyzer


@pytest.fixture(scope="module")
def analyzer():
    from models.aspects import AspectModel

    scorer = Analyzer.load(aspects=False).scorer
    return Analyzer(scorer, AspectModel.load(scorer))


def aspects(analyzer, text):
    [res] = analyzer.analyze([("t", text)])
    for a in res.aspects:
        assert res.text[a.start:a.end] == a.evidence and a.evidence in res.text
    return {a.aspect: a.label for a in res.aspects}


@pytest.mark.parametrize("text, expected", [
    ("等了五天才到", {"logistics": "negative"}),                       # implicit: no word 物流
    ("衣服跟图片上的不一样", {"description_match": "negative"}),
    ("The mug arrived in pieces", {"packaging": "negative"}),
    ("物流超slow", {"logistics": "negative"}),                         # mixed zh/en clause
    ("我买的是快递包装的版本", {}),                                      # aspect words, no opinion
    ("快递太慢了，气死了😡", {"logistics": "negative"}),                  # a bare feeling names no touchpoint
    ("无语了", {}),                                                      # (similarity alone says packaging)
    ("So disappointed", {}),                                             # (and price)
    ("酒店前台态度很差", {"customer_service": "negative"}),              # services: the taxonomy's hotel and
    ("结账时发现多了一项服务费", {"payment": "negative"}),                # restaurant examples
    ("已经收到了", {}),                                                  # arrival without an opinion
    ("收到货了，还没用", {}),
    ("Breakfast was decent", {"product_quality": "positive"}),          # not platform or packaging
    ("the portions were generous", {"product_quality": "positive"}),    # not after_sales or packaging
    ("good", {}), ("nice", {}), ("还可以", {}), ("一般般", {}),           # a bare verdict names no touchpoint
    ("质量不错", {"product_quality": "positive"}),                        # (similarity puts good near price)
    ("Thanks, the delivery was fast.", {"logistics": "positive"}),      # a one-word clause of a longer review
    ("Well, the battery died after two days.", {"product_quality": "negative"}),  # names nothing ("Thanks" is
    ("Sadly, it broke in a week.", {"product_quality": "negative"}),    # not packaging); a one-word review
    ("Overpriced!", {"price": "negative"}),                             # does name one
])
def test_implicit_mixed_and_no_opinion(analyzer, text, expected):
    assert aspects(analyzer, text) == expected


def test_negation(analyzer):
    assert aspects(analyzer, "这次没有色差")["description_match"] == "positive"
    assert aspects(analyzer, "物流一点也不慢")["logistics"] == "positive"


def test_contrast_gives_two_aspects_with_opposite_polarity(analyzer):
    found = aspects(analyzer, "虽然物流快，但是质量差")
    assert found == {"logistics": "positive", "product_quality": "negative"}
    found = aspects(analyzer, "Shipping was fast, but the quality is terrible")
    assert found.get("logistics") == "positive" and found.get("product_quality") == "negative"
    # the clause after "but" is matched on what it is about: with the marker it missed product_quality
    found = aspects(analyzer, "Arrived two days late and the box was crushed, but the blender works great.")
    assert found == {"logistics": "negative", "packaging": "negative", "product_quality": "positive"}


def test_evidence_maps_back_into_traditional_fullwidth_text(analyzer):
    text = "物流很快！！但是客服態度很差，ＡＰＰ也老是閃退"
    [res] = analyzer.analyze([("t", text)])
    got = {a.aspect: a for a in res.aspects}
    assert got["customer_service"].evidence == "但是客服態度很差" and got["customer_service"].label == "negative"
    assert got["logistics"].evidence == "物流很快"
    for a in res.aspects:
        assert text[a.start:a.end] == a.evidence


def test_taxonomy_is_configurable_without_retraining(analyzer, tmp_path):
    from models.aspects import TAXONOMY, AspectModel

    data = json.loads(TAXONOMY.read_text("utf-8"))
    data["aspects"].append({"key": "hotel_environment", "name": "酒店环境", "description": "酒店的房间、隔音、卫生、设施 / hotel room, noise, cleanliness",
                            "positive": ["房间很干净", "隔音效果很好", "the room was spotless"],
                            "negative": ["房间有霉味", "隔音太差了", "the room was dirty", "床单上有污渍"]})
    custom = tmp_path / "taxonomy.json"
    custom.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    model = AspectModel.load(analyzer.scorer, custom)
    analyzer2 = Analyzer(analyzer.scorer, model)
    [res] = analyzer2.analyze([("t", "酒店隔音很差，晚上吵得睡不着")])
    assert {a.aspect: a.label for a in res.aspects}.get("hotel_environment") == "negative"
    # a learned model keeps its heads and finds the added aspect by similarity (VOC_TAXONOMY / --taxonomy)
    learned = Analyzer.load(taxonomy=custom)
    assert learned.learned and [a.key for a in learned.extra_aspects.aspects] == ["hotel_environment"]
    [res] = learned.analyze([("t", "酒店隔音很差，晚上吵得睡不着")])
    assert {a.aspect: a.label for a in res.aspects}.get("hotel_environment") == "negative"


def test_fast_mode_aspects(tmp_path):
    fast = Analyzer.load(mode="fast")
    [res] = fast.analyze([("t", "物流很快，但是衣服有色差")])
    assert res.model.endswith("+fast")
    assert {a.aspect for a in res.aspects} >= {"logistics"}
    # the threshold is calibrated per embedder: with e5's fixed 0.8 the static vectors found a fifth of the mentions
    cases = {"快递太慢了，等了一个星期": ("logistics", "negative"), "客服态度很差": ("customer_service", "negative"),
             "包装破了": ("packaging", "negative"), "价格太贵了": ("price", "negative"),
             "质量很好，做工精细": ("product_quality", "positive"), "Customer service never replied": ("customer_service", "negative")}
    results = fast.analyze(list(zip(cases, cases)))
    right = sum(cases[r.id] in {(a.aspect, a.label) for a in r.aspects} for r in results)
    assert right >= 5, [(r.id, r.aspects) for r in results]


def test_a_clause_tied_with_three_aspects_keeps_only_the_best():
    """e5 found "Not worth the money" about as close to five aspects; such a flat profile names none clearly, so only
    the best stays. Two tied aspects both stay (色差太严重了: quality and description match)."""
    import numpy as np

    from models.aspects import AspectDef, AspectModel

    basis = np.eye(8, dtype=np.float32)
    vectors = {f"{k}{j}": basis[i] for i, k in enumerate("abcd") for j in range(3)}
    vectors["nothing"] = basis[7]
    vectors["flat"] = basis[0] + 0.99 * basis[1] + 0.985 * basis[2]
    vectors["pair"] = basis[0] + 0.995 * basis[1]
    vectors["clear"] = basis[3]
    aspects = [AspectDef(k, k, "", [f"{k}0", f"{k}1"], [f"{k}2"]) for k in "abcd"]
    model = AspectModel(aspects, ["nothing"], lambda texts: np.stack([vectors[t] for t in texts]), None, threshold=0.5)
    found = model.assign(model.embed(["flat", "pair", "clear"]), ["flat", "pair", "clear"], ["flat", "pair", "clear"])
    assert [[aspects[i].key for i, _, _ in hits] for hits in found] == [["a"], ["a", "b"], ["d"]]
