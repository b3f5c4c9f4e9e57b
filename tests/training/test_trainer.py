"""Fine-tuning (training/trainer.py) and the model soup (training/run.py) on a tiny model."""
import torch

from tests.tiny import tiny_net
from training.run import average_weights


def test_fine_tune_learns_and_reports(trained):
    net, _, metrics = trained
    assert metrics["dev"]["accuracy"] >= 0.9, metrics["dev"]
    assert metrics["history"] and metrics["steps"] > 0
    assert not net.encoder.embeddings.word_embeddings.weight.requires_grad  # frozen


def test_model_soup_is_the_mean_of_the_members_weights():
    a, b = tiny_net(seed=5), tiny_net(seed=6)
    want = {k: (v + b.state_dict()[k]) / 2 for k, v in a.state_dict().items() if v.dtype.is_floating_point}
    average_weights([a, b])
    for k, v in a.state_dict().items():
        if k in want:
            assert torch.allclose(v, want[k])

