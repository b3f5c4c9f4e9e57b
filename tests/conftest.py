"""Test setup: a private VOC_HOME per test session (never the user's ~/.voc) and a
persistent cache of the converted base encoder so it is built once, not per run."""
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("VOC_BASE_CACHE", str(ROOT / ".pytest_cache" / "voc-base"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True)
def voc_home(tmp_path, monkeypatch):
    home = tmp_path / "voc_home"
    monkeypatch.setenv("VOC_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def trained():
    """A tiny network fine-tuned on synthetic reviews (seconds): (net, tokenizer, metrics)."""
    from tests.labeled import synthetic
    from tests.tiny import tiny_net, tiny_tokenizer
    from training.trainer import TrainConfig, fine_tune

    train, dev = synthetic(600, 1), synthetic(90, 2)
    net, tok = tiny_net(), tiny_tokenizer()
    cfg = TrainConfig(epochs=3, batch_size=32, lr=2e-3, head_lr=5e-3, eval_every=20, patience=10, max_len=32, prefix="", threads=1)
    metrics = fine_tune(net, tok, train, dev, cfg, log=lambda m: None)
    return net, tok, metrics
