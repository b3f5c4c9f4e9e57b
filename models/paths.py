"""Where VoC keeps its state: registered models, cached base encoder, topic models, database."""
import json
import os
import shutil
from pathlib import Path

REPO_MODELS = Path(__file__).resolve().parent / "default"
META_FILE = "voc_model.json"


def voc_home() -> Path:
    home = Path(os.environ.get("VOC_HOME", Path.home() / ".voc")).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def base_cache() -> Path:
    """Where the transformers copy of the pretrained encoder is cached (VOC_BASE_CACHE overrides)."""
    env = os.environ.get("VOC_BASE_CACHE")
    return Path(env).expanduser() if env else voc_home() / "base"


def read_meta(model_dir: Path) -> dict:
    """A model directory's voc_model.json (labels, prefix, window, name, metrics)."""
    path = Path(model_dir) / META_FILE
    if not path.exists():
        raise FileNotFoundError(f"{model_dir} is not a VoC model directory (no {META_FILE})")
    return json.loads(path.read_text())


def remove_tree(path: Path, parent: Path) -> None:
    """Delete the directory `path`, which must be an entry of `parent`: never `parent` itself or anything outside
    it, whatever name or link led there (replacing a model named ".." would otherwise delete all of VOC_HOME)."""
    path, parent = Path(path), Path(parent).resolve()
    if path.name in ("", ".", "..") or path.is_symlink() or path.resolve().parent != parent:
        raise ValueError(f"refusing to delete {path}: it is not a directory inside {parent}")
    shutil.rmtree(path, ignore_errors=True)
