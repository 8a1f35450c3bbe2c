"""Multi-process training through torchrun's launcher: 2 processes (gloo) match 1 with the same global batch."""

import json

import pytest
import torch

from lmstack.errors import UserError
from lmstack.train.launch import launch_config
from lmstack.train.pretrain import pretrain
from lmstack.train.recipes import RECIPES

CPU = torch.device("cpu")


def logged(path, key: str) -> list[float]:
    return [row[key] for row in map(json.loads, path.read_text().splitlines()) if key in row]


@pytest.mark.slow  # two spawned processes import torch and transformers: ~20 s of start-up on 2 shared cores
def test_two_processes_match_one_with_the_same_global_batch(tmp_path, llama, tiny_tokenizer, tiny_train):
    rows = torch.randint(0, len(tiny_tokenizer), (40, 16), generator=torch.Generator().manual_seed(0))  # (N, T)
    common = dict(seed=0, device=CPU, bf16=False, validation=rows[:8])
    one, two = llama(), llama()
    m1 = pretrain(one, tiny_tokenizer, rows[8:], tmp_path / "one", tiny_train(max_steps=4, batch_size=4), **common)
    m2 = RECIPES["pretrain"].train(two, tiny_tokenizer, rows[8:], tmp_path / "two",
                                   tiny_train(max_steps=4, batch_size=2, nproc=2), **common)

    # Each global batch holds the same rows (the ranks take consecutive per-device batches of one
    # shuffled order) and DDP averages the ranks' mean gradients over equal-sized batches, which is
    # the one-process mean: only the float summation order differs, ~1e-7 relative after 4 steps.
    losses_1, losses_2 = (logged(tmp_path / run / "metrics.jsonl", "loss") for run in ("one", "two"))
    assert len(losses_2) == 4  # rank 1 logged nothing
    assert losses_2 == pytest.approx(losses_1, rel=1e-5)
    assert m2["val_loss"] == pytest.approx(m1["val_loss"], rel=1e-4)  # metrics are rounded to 4 decimals
    assert m1["val_loss"] < 6.4 and m1["train_tokens"] == m2["train_tokens"] == 4 * 4 * 16
    for a, b in zip(one.parameters(), two.parameters(), strict=True):  # the launcher's model holds the trained weights
        torch.testing.assert_close(b, a, rtol=0, atol=1e-4)
    assert (tmp_path / "two" / "model" / "model.safetensors").is_file() and (tmp_path / "two" / "loss.png").is_file()
    assert sorted(p.name for p in (tmp_path / "two" / "checkpoints").iterdir()) == ["checkpoint-4"]


@pytest.mark.slow  # two spawned processes: ~20 s of start-up on 2 shared cores, 2 steps of training
def test_lora_on_two_processes_matches_one(tmp_path, llama, tiny_tokenizer, tiny_train, chat_file, write_jsonl):
    from lmstack.train.sft import sft

    # 8 rows: two global batches of 4, so no rank pads its last batch with repeated rows
    lines = chat_file.read_text().splitlines()
    chat = write_jsonl(tmp_path / "chat8.jsonl", lines + lines[:2])
    lora = {"r": 4, "alpha": 8, "dropout": 0.0}
    common = dict(seed=0, device=CPU, bf16=False, max_length=64)
    one, two = llama(), llama()
    m1 = sft(one, tiny_tokenizer, [chat], tmp_path / "one", tiny_train(method="lora", max_steps=2, batch_size=4,
                                                                       lora=lora), **common)
    m2 = RECIPES["sft"].train(two, tiny_tokenizer, [chat], tmp_path / "two",
                              tiny_train(method="lora", max_steps=2, batch_size=2, nproc=2, lora=lora), **common)

    losses_1, losses_2 = (logged(tmp_path / run / "metrics.jsonl", "loss") for run in ("one", "two"))
    assert len(losses_2) == 2 and losses_2 == pytest.approx(losses_1, rel=1e-5)
    assert m2["trainable_parameters"] == m1["trainable_parameters"] < m1["parameters"] / 5
    adapters_1, adapters_2 = ({k: v for k, v in m.state_dict().items() if "lora_" in k} for m in (one, two))
    assert adapters_2.keys() == adapters_1.keys() and len(adapters_1) > 0  # the launcher's model holds them
    assert any(v.abs().sum() > 0 for k, v in adapters_2.items() if "lora_B" in k)  # B starts at zero
    for k, v in adapters_1.items():
        torch.testing.assert_close(adapters_2[k], v, rtol=0, atol=1e-5)
    saved = json.loads((tmp_path / "two" / "model" / "adapter_config.json").read_text())
    assert saved["base_model_name_or_path"] == str((tmp_path / "two" / "base").resolve())


def test_fsdp_on_cpus_is_refused(llama, tiny_tokenizer, tiny_train, tmp_path):
    # on CPUs accelerate would run DDP under that name
    with pytest.raises(UserError, match="fsdp shards over GPUs"):
        RECIPES["sft"].train(llama(), tiny_tokenizer, [], tmp_path, tiny_train(nproc=2, distributed="fsdp"),
                             seed=0, device=CPU, bf16=False, max_length=32)


def test_launch_config_reads_the_torchrun_variables():
    config = launch_config(8, {"NNODES": "2", "NODE_RANK": "1", "MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "29500"})
    assert (config.min_nodes, config.max_nodes, config.nproc_per_node) == (2, 2, 8)
    assert (config.rdzv_endpoint, config.rdzv_configs["rank"]) == ("10.0.0.1:29500", 1)
    local = launch_config(2, {})
    assert local.min_nodes == 1 and local.rdzv_endpoint.startswith("127.0.0.1:")


@pytest.mark.parametrize("env, message", [
    ({"NNODES": "2", "NODE_RANK": "0"}, "needs MASTER_ADDR and MASTER_PORT"),
    ({"NNODES": "2", "NODE_RANK": "2", "MASTER_ADDR": "h", "MASTER_PORT": "1"}, "NODE_RANK 2 is outside 0..1"),
    ({"NNODES": "two"}, "must be whole numbers"),
])
def test_launch_config_explains_bad_variables(env, message):
    with pytest.raises(UserError, match=message):
        launch_config(2, env)


def test_a_workers_user_error_reaches_the_launcher_whole(monkeypatch, llama, tiny_tokenizer, tiny_train, tmp_path):
    import lmstack.train.launch as launch

    def one_rank(config, entrypoint):  # the elastic agent, with the worker run in this process as rank 0
        return lambda *args: {0: entrypoint(*args)}

    def bad_data(model, tokenizer, data, out_dir, cfg, **kwargs):
        raise UserError("data.jsonl:3: no assistant turn", hint="add one")
    monkeypatch.setattr(launch, "elastic_launch", one_rank)
    with pytest.raises(UserError, match="data.jsonl:3: no assistant turn") as e:
        launch.run_distributed(bad_data, llama(), tiny_tokenizer, [], tmp_path, tiny_train(nproc=2), device=CPU)
    assert e.value.hint == "add one"
