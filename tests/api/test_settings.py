"""Settings (api/settings.py): read once from the environment by the entry point, overridden by options."""
import pytest

from api.cli import main
from api.settings import Settings


def test_batches_in_flight_default_and_override(monkeypatch):
    assert Settings().batches_in_flight == 2 and Settings.from_env(mode="fast").batches_in_flight == 2
    monkeypatch.setenv("VOC_BATCHES_IN_FLIGHT", "3")
    assert Settings.from_env().batches_in_flight == 3
    monkeypatch.setenv("VOC_BATCHES_IN_FLIGHT", "two")
    with pytest.raises(ValueError, match="VOC_BATCHES_IN_FLIGHT"):
        Settings.from_env()


def test_a_bad_setting_stops_voc_serve_with_a_message(monkeypatch, capsys):
    monkeypatch.setenv("VOC_TZ", "Beijing")
    assert main(["serve", "--port", "1"]) == 2
    assert "VOC_TZ: unknown time zone 'Beijing'" in capsys.readouterr().err
    monkeypatch.setenv("VOC_TZ", "+08:00")
    assert Settings.from_env().tz.utcoffset(None).total_seconds() == 8 * 3600


def test_the_engine_is_a_setting(monkeypatch):
    """VOC_ENGINE is read here, once, and passed down (Analyzer.load(engine=...)); unknown names stop the start."""
    monkeypatch.delenv("VOC_ENGINE", raising=False)
    assert Settings.from_env().engine == "auto"
    monkeypatch.setenv("VOC_ENGINE", "bf16")
    assert Settings.from_env().engine == "bf16"
    monkeypatch.setenv("VOC_ENGINE", "fast")
    with pytest.raises(ValueError, match="VOC_ENGINE"):
        Settings.from_env()


def test_the_taxonomy_comes_from_voc_taxonomy_or_the_option(monkeypatch, tmp_path):
    mine, other = tmp_path / "mine.json", tmp_path / "other.json"
    mine.write_text("{}", encoding="utf-8")
    other.write_text("{}", encoding="utf-8")
    assert Settings.from_env().taxonomy is None
    monkeypatch.setenv("VOC_TAXONOMY", str(mine))
    assert Settings.from_env().taxonomy == mine
    assert Settings.from_env(taxonomy=str(other)).taxonomy == other  # --taxonomy wins
    monkeypatch.setenv("VOC_TAXONOMY", str(tmp_path / "missing.json"))
    with pytest.raises(ValueError, match="missing.json"):
        Settings.from_env()


def test_storage_settings(monkeypatch):
    assert Settings.from_env().store_text is True and Settings.from_env().db_url is None
    monkeypatch.setenv("VOC_STORE_TEXT", "0")
    monkeypatch.setenv("VOC_DB_URL", "sqlite:///x.db")
    assert Settings.from_env().store_text is False and Settings.from_env().db_url == "sqlite:///x.db"
