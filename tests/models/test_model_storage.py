"""What a model directory keeps of a fine-tuning: the difference from the pretrained encoder, so small updates
survive the int8 storage (a user's retraining used to be rounded away), and the aspect labels of a user's file."""
import json

import numpy as np
import torch

from models.classifier import DIFF_FILE, SentimentNet, load_net, save_model_dir
from models.encoder import ensure_base_model
from training.data import read_aspect_rows


def test_a_small_fine_tune_survives_saving(tmp_path):
    from transformers import BertModel

    base = ensure_base_model()
    net = SentimentNet(BertModel.from_pretrained(base, add_pooling_layer=False))
    before = {k: v.clone() for k, v in net.encoder.state_dict().items()}
    torch.manual_seed(0)
    weight = net.encoder.encoder.layer[3].attention.self.query.weight
    step = torch.randn_like(weight) * 1e-4  # a few hundred steps of lr 2e-5 move a weight about this much
    with torch.no_grad():
        weight += step
    save_model_dir(net, tmp_path, {"labels": ["negative", "neutral", "positive"], "prefix": "query: "})
    assert (tmp_path / DIFF_FILE).exists()
    loaded, _ = load_net(tmp_path, base)
    key = "encoder.layer.3.attention.self.query.weight"
    kept = loaded.encoder.state_dict()[key] - before[key]
    # rounding the weights themselves to int8 would err by up to 1/254 of a row's largest weight (~1e-3 here), ten
    # times the update; rounding the difference errs by 1/254 of the update
    assert float((kept - step).abs().max()) < 1e-5
    assert np.corrcoef(kept.flatten().numpy(), step.flatten().numpy())[0, 1] > 0.999
    untouched = "encoder.layer.5.output.dense.weight"
    assert torch.allclose(loaded.encoder.state_dict()[untouched], before[untouched], atol=1e-6)


def test_aspect_labels_are_read_from_a_labelled_file(tmp_path):
    path = tmp_path / "labels.jsonl"
    rows = [{"text": "汤一点都没洒，骑手很快", "label": "positive",
             "aspects": [{"aspect": "packaging", "label": "positive", "evidence": "汤一点都没洒"},
                         {"aspect": "logistics", "label": "positive", "evidence": "not in the text"}]},
            {"text": "还行", "label": "neutral"}]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    [row] = read_aspect_rows(path)
    assert row["aspects"] == [{"aspect": "packaging", "label": "positive", "evidence": "汤一点都没洒", "start": 0, "end": 6}]
    plain = tmp_path / "plain.csv"
    plain.write_text("text,label\n好,positive\n", encoding="utf-8")
    assert read_aspect_rows(plain) == []
