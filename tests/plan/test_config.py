"""The plan section: old project files still validate, every field is described, bad values are refused."""

import pytest
from pydantic import BaseModel, ValidationError

from lmstack.plan.config import PlanSection


def test_defaults_keep_the_earlier_meaning():
    p = PlanSection()
    assert (p.task, p.peak_qps, p.ttft_ms, p.tpot_ms, p.domain) == ("qa", None, None, None, "general")
    assert p.hardware.device == "cpu"


def test_an_earlier_plan_section_validates():
    p = PlanSection.model_validate({"task": "qa", "domain": "specialised", "peak_qps": 5, "ttft_ms": 500})
    assert p.peak_qps == 5 and p.ttft_ms == 500


def _models(model: type[BaseModel]):
    yield model
    for field in model.model_fields.values():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            yield from _models(field.annotation)


def test_every_field_has_a_description():
    for model in _models(PlanSection):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"


@pytest.mark.parametrize("bad", [{"task": "poetry"}, {"peak_qps": -1}, {"ttft_ms": 0},
                                 {"hardware": {"count": 0}}, {"data": {"labelled_rows": -5}},
                                 {"task": "image_text_retrieval", "tpot_ms": 20}, {"qps": 3}])
def test_bad_values_are_refused(bad):
    with pytest.raises(ValidationError):
        PlanSection.model_validate(bad)
