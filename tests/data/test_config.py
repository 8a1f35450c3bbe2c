"""The project's `data` section: the recipe path is relative to the config file."""

from pathlib import Path

from lmstack.data.config import DataSection


def test_recipe_resolves_relative_to_the_config(tmp_path):
    section = DataSection.model_validate({"recipe": "clean.yaml", "corpus": ["c.txt"]}, context={"base_dir": tmp_path})
    assert section.recipe == tmp_path / "clean.yaml" and section.corpus == [tmp_path / "c.txt"]
    assert DataSection.model_validate({}).recipe is None
    assert DataSection.model_validate({"recipe": "/abs/r.yaml"}, context={"base_dir": tmp_path}).recipe == Path("/abs/r.yaml")
