"""Where VoC keeps its state: registered models, cached base encoder, topic models, database.

The only place under models/ that reads the environment, and only these two locations. Every other setting lives
in api.settings.Settings, read once by the entry point and passed down. These two stay here because they name
state that several processes and entry points must agree on without being handed anything: the registry and
topic models that `Analyzer.load()` or `registry.list_models()` find from plain Python, the training job's child
process (`voc train`, started by the server), the test suite's private home per test. Threading a home
directory through every registry, topic, encoder and graph-cache call would change a dozen signatures for the
same result.
"""
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
