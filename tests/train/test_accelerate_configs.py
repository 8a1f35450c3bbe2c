"""The accelerate configs shipped in examples/accelerate load with accelerate's own reader and say what their names say."""

from pathlib import Path

import pytest
from accelerate.commands.config.config_args import load_config_from_file
from accelerate.utils import DistributedType

CONFIGS = Path(__file__).parents[2] / "examples" / "accelerate"


@pytest.mark.parametrize("name, kind, processes, machines", [
    ("multi_node_ddp", DistributedType.MULTI_GPU, 16, 2),
    ("fsdp", DistributedType.FSDP, 8, 1),
    ("deepspeed_zero2", DistributedType.DEEPSPEED, 8, 1),
    ("deepspeed_zero3", DistributedType.DEEPSPEED, 8, 1),
])
def test_config_loads(name, kind, processes, machines):
    config = load_config_from_file(str(CONFIGS / f"{name}.yaml"))
    assert (config.distributed_type, config.num_processes, config.num_machines) == (kind, processes, machines)
    assert config.mixed_precision == "bf16"
    if name.startswith("deepspeed"):
        stage = int(name[-1])
        assert config.deepspeed_config["zero_stage"] == stage
        assert config.deepspeed_config.get("zero3_save_16bit_model", False) == (stage == 3)  # saves whole weights
    if name == "fsdp":
        assert config.fsdp_config["fsdp_version"] == 2
        assert config.fsdp_config["fsdp_state_dict_type"] == "FULL_STATE_DICT"


def test_every_shipped_config_is_tested():
    assert sorted(p.stem for p in CONFIGS.glob("*.yaml")) == ["deepspeed_zero2", "deepspeed_zero3", "fsdp",
                                                              "multi_node_ddp"]


def test_the_launch_script_pretrains_in_one_process(tmp_path, monkeypatch, tiny_tokenizer_dir, corpus_lines):
    """`accelerate launch` runs it once per process; alone it is one process of plain training."""
    import json
    import runpy

    project = tmp_path / "project.yaml"
    project.write_text("project: {name: t}\nmodel: {preset: llama-1m, context_length: 32, threads: 1}\n"
                       "train: {max_steps: 3, batch_size: 2, log_every: 1, save_every: 3, validation_share: 0.0}\n")
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"text": line}, ensure_ascii=False) + "\n" for line in corpus_lines))
    monkeypatch.setattr("sys.argv", ["pretrain.py", "--project", str(project), "--tokenizer", str(tiny_tokenizer_dir),
                                     "--text", str(corpus), "--out", str(tmp_path / "out")])
    runpy.run_path(str(CONFIGS / "pretrain.py"), run_name="__main__")
    rows = [json.loads(line) for line in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == [1, 2, 3]
    assert (tmp_path / "out" / "model" / "model.safetensors").is_file()
