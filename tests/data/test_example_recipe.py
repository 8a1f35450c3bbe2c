"""The shipped customer-service recipe loads, runs within budget, and scores against the sidecar."""

from pathlib import Path

import pytest

from lmstack.data.clean import clean
from lmstack.data.recipe import load_recipe
from lmstack.examples.customer_service import generate

RECIPE = Path(__file__).parents[2] / "examples" / "customer-service" / "clean.yaml"


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cs")
    generate(out, seed=0, scale=0.1)
    return out


def test_recipe_loads_with_every_step_valid(example):
    recipe = load_recipe(RECIPE, base_dir=example)
    assert recipe.max_removed_ratio == 0.15
    assert [s.step_name for s in recipe.steps][:4] == ["encoding", "nfkc", "whitespace", "chinese_script"]
    assert set(recipe.noise_targets) == {"exact_duplicate", "near_duplicate", "pii_resident_id", "pii_mobile", "pii_bank_card",
                                         "pii_email", "junk", "mojibake", "traditional", "wrong_language", "too_short", "too_long"}
    assert recipe.output_dir == RECIPE.parent / "../../runs/customer-service/data/clean"
    assert load_recipe(RECIPE, base_dir=example).base_dir == example
    # without --data-dir the inputs are where `lmstack run` generates the example
    import yaml
    assert yaml.safe_load(RECIPE.read_text())["base_dir"] == "../../runs/customer-service/data/example"


def test_recipe_cleans_the_example_and_catches_the_noise(example, tmp_path):
    report = clean(load_recipe(RECIPE, base_dir=example), tmp_path / "clean")
    assert report["removed_share"] <= 0.15
    by_noise = report["noise"]["by_noise"]
    for noise in ("pii_resident_id", "pii_mobile", "pii_bank_card", "pii_email", "mojibake", "traditional"):
        assert by_noise[noise]["recall"] == 1.0 and by_noise[noise]["precision"] == 1.0, noise
    for noise in ("exact_duplicate", "junk", "wrong_language", "too_long"):
        assert by_noise[noise]["recall"] == 1.0, noise
    # the generator's clean rows hold no near-duplicates, so every row the dedup steps remove is planted
    for noise in ("exact_duplicate", "near_duplicate"):
        assert by_noise[noise]["precision"] == 1.0 and by_noise[noise]["false_pos"] == 0, noise
    assert by_noise["near_duplicate"]["caught"] >= 3
    assert report["rejected"] == {}
    assert sum(report["pii"].values()) == sum(by_noise[k]["planted"] for k in by_noise if k.startswith("pii_"))
