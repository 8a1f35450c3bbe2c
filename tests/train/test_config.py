"""The train section: recipe-specific fields validate, nest and describe themselves."""

import pytest
from pydantic import ValidationError

from lmstack.train.config import LoraSection, TrainSection
from lmstack.train.recipes import RECIPES


def test_defaults_keep_pretrain_and_full_fine_tuning():
    cfg = TrainSection()
    assert (cfg.recipe, cfg.method, cfg.data_format, cfg.lora.target_modules) == ("pretrain", "full", "auto", "all-linear")
    assert (cfg.source_field, cfg.target_field) == ("question", "answer")


def test_every_recipe_has_a_table_row_and_every_field_a_description():
    assert set(RECIPES) == set(TrainSection.model_fields["recipe"].annotation.__args__)
    for section in (TrainSection, LoraSection):
        assert all(field.description for field in section.model_fields.values()), section


def test_lora_settings_nest_and_bad_values_are_refused():
    cfg = TrainSection(recipe="sft", method="lora", lora={"r": 16, "target_modules": ["q_proj", "v_proj"]})
    assert cfg.lora.r == 16 and cfg.lora.alpha == 16 and cfg.lora.target_modules == ["q_proj", "v_proj"]
    with pytest.raises(ValidationError, match="rank"):
        TrainSection(lora={"rank": 8})
    with pytest.raises(ValidationError, match="method"):
        TrainSection(method="dora")
    with pytest.raises(ValidationError, match="data_format"):
        TrainSection(data_format="csv")


def test_compile_is_off_by_default_and_reaches_the_trainer(tmp_path):
    import torch

    from lmstack.train.fit import training_arguments

    def args(**settings):
        return training_arguments(TrainSection(**settings), tmp_path, seed=0, device=torch.device("cpu"), bf16=False,
                                  has_validation=False)
    assert (args().torch_compile, args(compile=True).torch_compile) == (False, True)
