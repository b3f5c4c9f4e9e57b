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
