"""Where VoC keeps its state: registered models, cached base encoder, topic models, database."""
import os
from pathlib import Path

REPO_MODELS = Path(__file__).resolve().parent / "default"


def voc_home() -> Path:
    home = Path(os.environ.get("VOC_HOME", Path.home() / ".voc")).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def base_cache() -> Path:
    """Where the transformers copy of the pretrained encoder is cached (VOC_BASE_CACHE overrides)."""
    env = os.environ.get("VOC_BASE_CACHE")
    return Path(env).expanduser() if env else voc_home() / "base"
