"""Model directories (models/classifier.py): saving and loading the network, int8 rows."""
import torch
from transformers import BertModel

from models.classifier import LABELS, dequantize_rows, load_net, quantize_rows, save_model_dir


def test_model_dir_round_trip_and_plain_transformers(trained, tmp_path):
    net, tok, _ = trained
    save_model_dir(net, tmp_path / "m", {"labels": list(LABELS), "prefix": "", "name": "tiny@1"}, delta_only=False)
    loaded, meta = load_net(tmp_path / "m")
    ids = torch.tensor([tok("好很棒")["input_ids"]])
    mask = torch.ones_like(ids)
    with torch.inference_mode():
        assert torch.allclose(net.eval()(ids, mask), loaded(ids, mask), atol=1e-5)
    # the encoder alone loads with plain transformers
    assert isinstance(BertModel.from_pretrained(tmp_path / "m" / "encoder"), BertModel)
    assert meta["name"] == "tiny@1"


def test_int8_rows_are_close():
    w = {"layer.weight": torch.randn(64, 32), "layer.bias": torch.randn(64)}
    back = dequantize_rows(quantize_rows(w))
    assert quantize_rows(w)["layer.weight"].dtype == torch.int8
    cos = torch.nn.functional.cosine_similarity(back["layer.weight"], w["layer.weight"]).min()
    assert cos > 0.999

