"""The `voc` command line, in process, with the heavy parts replaced: what each command passes down."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from api import cli
from models import registry
from models.analyzer import Analyzer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def loads(monkeypatch):
    """Analyzer.load's keyword arguments, one dict per call; the analyzer itself is never built."""
    calls = []

    class Stub:
        model_name = "stub"

        def analyze(self, items):
            return []

    def load(model=None, **kw):
        calls.append({"model": model, **kw})
        return Stub()

    monkeypatch.setattr(Analyzer, "load", staticmethod(load))
    return calls


def test_taxonomy_engine_and_options_reach_the_analyzer(loads, monkeypatch, tmp_path):
    taxonomy = tmp_path / "taxonomy.json"
    taxonomy.write_text("{}", encoding="utf-8")
    monkeypatch.setenv("VOC_ENGINE", "fp32")
    assert cli.main(["analyze", "--taxonomy", str(taxonomy), "--no-aspects", "好"]) == 0
    assert loads[-1] == {"model": None, "mode": "accurate", "aspects": False, "taxonomy": taxonomy, "engine": "fp32"}
    monkeypatch.setenv("VOC_TAXONOMY", str(taxonomy))
    assert cli.main(["analyze", "--mode", "fast", "好"]) == 0
    assert loads[-1]["taxonomy"] == taxonomy and loads[-1]["mode"] == "fast" and loads[-1]["aspects"] is True


def test_server_settings_stay_the_servers(loads, monkeypatch):
    """VOC_MODE and VOC_ASPECTS configure `voc serve`; another command decides by its own options."""
    monkeypatch.setenv("VOC_MODE", "fast")
    monkeypatch.setenv("VOC_ASPECTS", "0")
    assert cli.main(["analyze", "好"]) == 0
    assert loads[-1]["mode"] == "accurate" and loads[-1]["aspects"] is True
    settings = cli.command_settings(cli.build_parser().parse_args(["serve"]))
    assert settings.mode == "fast" and settings.aspects is False


def test_taxonomy_option_on_score_and_serve():
    for command in (["score", "in.csv"], ["serve"]):
        args = cli.build_parser().parse_args([*command, "--taxonomy", "t.json"])
        assert args.taxonomy == "t.json"


def test_the_default_recipe_registers_its_model_instead_of_writing_into_the_source_tree(monkeypatch, voc_home, capsys):
    from training import run

    written = []

    def recipe(out, log=print, name=None, root=None):
        written.append((out, name, root))
        out.mkdir(parents=True)
        (out / "voc_model.json").write_text(json.dumps({"name": name, "labels": ["negative", "neutral", "positive"]}))
        return {"dev": {"accuracy": 1.0}, "minutes": 0.0}

    monkeypatch.setattr(run, "train_default_recipe", recipe)
    assert cli.main(["train", "--recipe", "default", "--name", "rebuilt"]) == 0
    out, name, root = written[-1]
    assert name == "rebuilt" and out.parent == registry.models_dir() == root
    assert voc_home in out.parents and ROOT not in out.parents
    assert "rebuilt" in [m["name"] for m in registry.list_models()]
    assert json.loads(capsys.readouterr().out)["name"] == "rebuilt"
    assert cli.main(["train", "--recipe", "default", "--out", str(voc_home / "elsewhere")]) == 0
    assert written[-1][0] == voc_home / "elsewhere"


def test_constructing_an_analyzer_leaves_the_process_threads_alone():
    """Only the entry points (the CLI, the app factory) put numpy's BLAS on one thread."""
    code = ("import numpy as np; from threadpoolctl import threadpool_info; from models.analyzer import Analyzer\n"
            "from models.fast import FastScorer\n"
            "before = [p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas']\n"
            "z = np.zeros((4, 2), np.float32)\n"
            "Analyzer(FastScorer(None, z, np.zeros(4, np.int64), np.zeros((3, 2), np.float32), np.zeros(3, np.float32), {}))\n"
            "after = [p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas']\n"
            "from models.runtime.hardware import blas_on_one_thread; blas_on_one_thread()\n"
            "print(before == after, [p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    same, limited = out.stdout.split(" ", 1)
    assert same == "True" and set(json.loads(limited)) <= {1}
