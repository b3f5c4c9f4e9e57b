"""Model names and the deletes that replace a model (models/registry.py, models/paths.py, training/run.py)."""
import pytest

from models import registry
from models.paths import remove_tree
from training.run import publish_dir


@pytest.mark.parametrize("bad", ["..", ".", ".hidden", "a/b", "a\\b", "", "x" * 81, "v1.partial", "名字"])
def test_model_names_are_checked_in_one_place(bad):
    with pytest.raises(registry.InvalidName):
        registry.check_name(bad)
    with pytest.raises(registry.InvalidName):
        registry.register_dir(bad)


def test_a_good_name_is_a_folder_of_the_models_directory():
    assert registry.register_dir("voc-custom@2026-11-01.120000").parent == registry.models_dir()


def test_replacing_a_model_never_deletes_outside_its_folder(voc_home):
    """"." and ".." as a model's name would make replacing that model delete every model, or all of VOC_HOME."""
    models = registry.models_dir()
    (models / "kept").mkdir()
    (voc_home / "voc.db").write_text("data")
    for target in (models / "..", models / ".", models, voc_home, models / "kept" / ".."):
        with pytest.raises(ValueError, match="refusing to delete"):
            remove_tree(target, models)
        with pytest.raises(ValueError, match="refusing to delete"):
            publish_dir(target, lambda tmp: tmp.mkdir(), root=models)
    assert (models / "kept").is_dir() and (voc_home / "voc.db").read_text() == "data"
    publish_dir(models / "new", lambda tmp: (tmp.mkdir(), (tmp / "w").write_text("1")), root=models)
    publish_dir(models / "new", lambda tmp: (tmp.mkdir(), (tmp / "w").write_text("2")), root=models)
    assert (models / "new" / "w").read_text() == "2" and not (models / "new.partial").exists()

