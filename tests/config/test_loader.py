import json
from pathlib import Path

import pytest

from lmstack.config import config_schema, dump_config, load_config, section_hash
from lmstack.config.loader import parse_override
from lmstack.errors import UserError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(ROOT.glob("examples/*/project.yaml"))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "project.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.parent.name)
def test_every_example_config_validates(path):
    cfg = load_config(path)
    assert cfg.project.name == path.parent.name


def test_examples_exist():
    assert len(EXAMPLES) >= 1


def test_defaults_and_relative_paths(tmp_path):
    cfg = load_config(write(tmp_path, "project: {name: demo}\ndata: {corpus: [corpus.txt]}\n"))
    assert cfg.train.max_steps == 300 and cfg.model.preset == "llama-5m" and cfg.serve.host == "127.0.0.1"
    assert cfg.data.corpus == [tmp_path.resolve() / "corpus.txt"]
    assert cfg.run_root == Path("runs/demo")


def test_overrides_are_typed(tmp_path):
    cfg = load_config(write(tmp_path, "project: {name: demo}\n"),
                      ["train.lr=3e-4", "train.max_steps=7", "model.autocast=false", "project.languages=[en]"])
    assert cfg.train.lr == pytest.approx(3e-4) and cfg.train.max_steps == 7
    assert cfg.model.autocast is False and cfg.project.languages == ["en"]


def test_unknown_key_suggests_the_closest(tmp_path):
    path = write(tmp_path, "project:\n  name: demo\ntrain:\n  lrr: 0.001\n")
    with pytest.raises(UserError) as e:
        load_config(path)
    assert f"{path}:4: train.lrr: unknown key; did you mean 'lr'?" in e.value.message


def test_unknown_section_suggests_the_closest(tmp_path):
    with pytest.raises(UserError) as e:
        load_config(write(tmp_path, "project: {name: demo}\ntrian: {}\n"))
    assert "did you mean 'train'?" in e.value.message


def test_wrong_type_names_field_value_and_line(tmp_path):
    path = write(tmp_path, "project:\n  name: demo\ntrain:\n  max_steps: many\n")
    with pytest.raises(UserError) as e:
        load_config(path)
    msg = e.value.message
    assert msg.startswith(f"{path}:4: train.max_steps:") and "integer" in msg and "'many'" in msg


def test_bad_literal_lists_allowed_values(tmp_path):
    with pytest.raises(UserError) as e:
        load_config(write(tmp_path, "project: {name: demo}\ntrain: {schedule: wavy}\n"))
    assert "'cosine'" in e.value.message and "'wavy'" in e.value.message


def test_override_error_names_the_override(tmp_path):
    with pytest.raises(UserError) as e:
        load_config(write(tmp_path, "project: {name: demo}\n"), ["train.lr=-1"])
    assert "override 'train.lr=-1': train.lr:" in e.value.message


def test_unknown_preset_suggests_a_name(tmp_path):
    with pytest.raises(UserError) as e:
        load_config(write(tmp_path, "project: {name: demo}\nmodel: {preset: llama-5n}\n"))
    assert "llama-5m" in e.value.message


def test_preset_and_path_are_exclusive(tmp_path):
    cfg = load_config(write(tmp_path, "project: {name: demo}\nmodel: {path: /models/x}\n"))
    assert cfg.model.preset is None
    with pytest.raises(UserError) as e:
        load_config(write(tmp_path, "project: {name: demo}\nmodel: {path: /models/x, preset: llama-5m}\n"))
    assert "exactly one of model.preset" in e.value.message


@pytest.mark.parametrize("text, expected", [
    ("project: [\n", "malformed YAML"),
    ("project:\n\tname: x\n", "malformed YAML"),
    ("", "the file is empty"),
    ("- a\n- b\n", "top level must be a mapping"),
    ("train: {}\n", "project: required field is missing"),
    ("project: {name: 'bad name'}\n", "project.name"),
])
def test_malformed_files(tmp_path, text, expected):
    with pytest.raises(UserError) as e:
        load_config(write(tmp_path, text))
    assert expected in e.value.message


def test_missing_file(tmp_path):
    with pytest.raises(UserError, match="no such config file"):
        load_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize("item", ["train.lr", "=3", "train..lr=1"])
def test_bad_override_syntax(item):
    with pytest.raises(UserError, match="section.key=value"):
        parse_override(item)


def test_schema_describes_every_field():
    schema = config_schema()
    assert set(schema["properties"]) == {"project", "plan", "data", "model", "train", "finetune", "eval", "bench",
                                         "serve"}
    for name, definition in schema["$defs"].items():
        for field, spec in definition.get("properties", {}).items():
            assert spec.get("description"), f"{name}.{field} has no description"
    json.dumps(schema)


def test_dump_round_trips(tmp_path):
    cfg = load_config(write(tmp_path, "project: {name: demo}\ntrain: {lr: 0.01}\n"))
    again = load_config(write(tmp_path, dump_config(cfg)))
    assert again == cfg
    assert section_hash(again.train) == section_hash(cfg.train)
    assert section_hash(cfg.train) != section_hash(cfg.train.model_copy(update={"lr": 0.02}))
