"""Model registry: the shipped default plus versions trained by users, under $VOC_HOME/models.

`serving.json` names the model that serves. Switching is one atomic file
replace, so a reader never sees a half-written choice; a model directory only
appears once training has written it completely (see training/run.py).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

from models.paths import REPO_MODELS, read_meta, voc_home

DEFAULT = "default"
# a model's name is a directory name under $VOC_HOME/models: no separators, and no leading dot, which rules out
# "." and ".." (the models folder itself and VOC_HOME, which replacing a model of that name would delete)
NAME_PATTERN = r"^[A-Za-z0-9_@-][A-Za-z0-9_.@-]{0,79}$"


class ModelNotFound(LookupError):
    pass


class InvalidName(ValueError):
    pass


def check_name(name: str) -> str:
    """`name` if it can name a model (or a saved topic model), else InvalidName saying why."""
    if not isinstance(name, str) or not re.fullmatch(NAME_PATTERN, name) or name.endswith(".partial"):
        raise InvalidName(f"invalid name {name!r}: use 1-80 letters, digits and _ . @ -, not starting with a dot "
                          "(and not ending in .partial)")
    return name


def models_dir() -> Path:
    d = voc_home() / "models"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _safe(name: str) -> str:
    return name.replace("/", "_").replace("@", "_at_")


def path_of(name: str) -> Path:
    if name == DEFAULT:
        return REPO_MODELS
    p = Path(name)
    if p.is_dir() and (p / "voc_model.json").exists():  # a model directory given by path
        return p
    d = models_dir() / _safe(name)
    if not (d / "voc_model.json").exists():
        raise ModelNotFound(f"no model named {name!r}; `voc models` lists them")
    return d


def list_models() -> list[dict]:
    out = []
    for d in [REPO_MODELS] + sorted(p for p in models_dir().iterdir() if p.is_dir() and not p.name.endswith(".partial")):
        try:
            meta = read_meta(d)
        except (FileNotFoundError, json.JSONDecodeError):
            continue
        name = DEFAULT if d == REPO_MODELS else meta.get("name", d.name)
        out.append({"name": name, "version": meta.get("name"), "recipe": meta.get("recipe"),
                    "metrics": meta.get("metrics", {}), "serving": name == serving_name(), "path": str(d)})
    return out


def serving_name() -> str:
    f = voc_home() / "serving.json"
    if f.exists():
        try:
            name = json.loads(f.read_text())["name"]
            path_of(name)
            return name
        except (KeyError, json.JSONDecodeError, ModelNotFound):
            pass
    return DEFAULT


def use(name: str) -> Path:
    """Make `name` the serving model (atomic)."""
    path = path_of(name)
    f = voc_home() / "serving.json"
    tmp = f.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps({"name": name}))
    os.replace(tmp, f)
    return path


def register_dir(name: str) -> Path:
    """Where a new version called `name` is written."""
    return models_dir() / _safe(check_name(name))
