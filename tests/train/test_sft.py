"""SFT: the exact assistant-only label mask, learning, LoRA (frozen base, merge parity), QLoRA errors, resume."""

import copy
import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, DataCollatorForSeq2Seq

from lmstack.errors import UserError
from lmstack.train import progress
from lmstack.train.adapters import merge_adapters
from lmstack.train.chat_tokens import IGNORE_INDEX, has_generation_markers, tokenize_conversation
from lmstack.train.sft import sft

CPU = torch.device("cpu")
CONVERSATION = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello there"}, {"role": "user", "content": "Bye"},
                {"role": "assistant", "content": "Goodbye"}]


def ids(tok, text):
    return tok(text, add_special_tokens=False)["input_ids"]


def test_labels_are_exactly_the_assistant_tokens(tiny_tokenizer):
    tok = tiny_tokenizer
    assert has_generation_markers(tok)
    row = tokenize_conversation(tok, CONVERSATION, max_length=256)
    # ChatML rendered piece by piece: what the model sees, and which pieces it learns to write.
    pieces = [("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", False),
              ("Hello there<|im_end|>", True), ("\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n", False),
              ("Goodbye<|im_end|>", True), ("\n", False)]
    expected_ids = [t for text, _ in pieces for t in ids(tok, text)]
    expected_labels = [t if learn else IGNORE_INDEX for text, learn in pieces for t in ids(tok, text)]
    assert row["input_ids"] == expected_ids
    assert row["labels"] == expected_labels
    assert tok.decode([t for t in row["labels"] if t != IGNORE_INDEX]) == "Hello there<|im_end|>Goodbye<|im_end|>"


def test_templates_without_markers_get_the_mask_from_prefix_renders(tiny_tokenizer):
    tok = copy.deepcopy(tiny_tokenizer)
    tok.chat_template = tok.chat_template.replace("{% generation %}", "").replace("{% endgeneration %}", "")
    assert not has_generation_markers(tok)
    row = tokenize_conversation(tok, CONVERSATION, max_length=256)
    learned = tok.decode([t for t in row["labels"] if t != IGNORE_INDEX])
    # Each assistant turn is what it adds to the render: its text, <|im_end|> and the newline after it.
    assert learned == "Hello there<|im_end|>\nGoodbye<|im_end|>\n"
    assert row["input_ids"] == tokenize_conversation(tiny_tokenizer, CONVERSATION, max_length=256)["input_ids"]


def test_truncation_that_leaves_no_assistant_token_is_a_reject(tiny_tokenizer, tmp_path, write_jsonl, tiny_train, llama):
    long = {"messages": [{"role": "user", "content": "card limit " * 40}, {"role": "assistant", "content": "ok"}]}
    short = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    path = write_jsonl(tmp_path / "c.jsonl", [long, short, short, short])
    metrics = sft(llama(), tiny_tokenizer, [path], tmp_path / "run", tiny_train(max_steps=1), seed=0, device=CPU,
                  bf16=False, max_length=32)
    assert metrics["rejected_rows"] == 1 and metrics["train_rows"] == 3
    rejects = [json.loads(line) for line in (tmp_path / "run" / "rejects.jsonl").read_text().splitlines()]
    assert [(r["line"], r["reason"].split(" (")[0]) for r in rejects] == [
        (1, "no assistant token within the first 32 tokens")]


def masked_loss(model, tok, path, max_length=128) -> float:
    """Mean assistant-token loss over every row of the chat file."""
    rows = [tokenize_conversation(tok, json.loads(line)["messages"], max_length)
            for line in path.read_text(encoding="utf-8").splitlines()]
    batch = DataCollatorForSeq2Seq(tok, padding=True, label_pad_token_id=IGNORE_INDEX)(rows)
    model.eval()
    with torch.no_grad():
        return model(**batch).loss.item()


def test_full_sft_lowers_the_loss_and_saves_the_chat_template(tiny_tokenizer, chat_file, tmp_path, tiny_train, llama):
    model = llama()
    before = masked_loss(model, tiny_tokenizer, chat_file)
    m = sft(model, tiny_tokenizer, [chat_file], tmp_path, tiny_train(), seed=0, device=CPU, bf16=False, max_length=128)
    after = masked_loss(model, tiny_tokenizer, chat_file)
    assert m["steps"] == 8 and m["train_rows"] == 6 and m["rejected_rows"] == 0
    assert m["formats"] == {str(chat_file): "messages"}
    assert m["trainable_parameters"] == m["parameters"]
    assert after < before - 1.0, (before, after)
    saved = AutoTokenizer.from_pretrained(tmp_path / "model")
    assert saved.chat_template == tiny_tokenizer.chat_template
    assert AutoTokenizer.from_pretrained(tmp_path / "checkpoints" / "checkpoint-8").chat_template == saved.chat_template
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path / "model")
    assert masked_loss(reloaded, tiny_tokenizer, chat_file) == pytest.approx(after, abs=1e-5)
    assert (tmp_path / "loss.png").stat().st_size > 1000


def test_lora_trains_only_adapters_and_merges_to_the_same_logits(tiny_tokenizer, chat_file, tmp_path, tiny_train, llama):
    from peft import PeftModel

    model = llama()
    base = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = tiny_train(method="lora", max_steps=30, lr=2e-2, save_every=30, lora={"r": 4, "alpha": 8, "dropout": 0.0})
    before = masked_loss(model, tiny_tokenizer, chat_file)
    m = sft(model, tiny_tokenizer, [chat_file], tmp_path, cfg, seed=0, device=CPU, bf16=False, max_length=128)
    assert 0 < m["trainable_parameters"] < m["parameters"] / 5
    after = masked_loss(model, tiny_tokenizer, chat_file)
    assert after < before - 0.3, (before, after)

    trained = model.state_dict()  # PEFT injected the adapters into this very model
    base_now = {k.replace(".base_layer", ""): v for k, v in trained.items() if "lora_" not in k}
    assert base_now.keys() == base.keys()
    assert all(torch.equal(base_now[k], base[k]) for k in base)
    assert any(v.abs().sum() > 0 for k, v in trained.items() if "lora_B" in k)

    adapter = tmp_path / "model"
    assert json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"] == str(tmp_path / "base")
    merged_dir = merge_adapters(adapter, tmp_path / "merged")
    merged = AutoModelForCausalLM.from_pretrained(merged_dir).eval()
    peft_model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tmp_path / "base"), adapter).eval()
    x = torch.tensor([tokenize_conversation(tiny_tokenizer, CONVERSATION, 128)["input_ids"]])
    with torch.no_grad():
        torch.testing.assert_close(merged(x).logits, peft_model(x).logits, rtol=1e-5, atol=1e-5)
    assert not any("lora" in k for k in merged.state_dict())
    assert sorted(p.name for p in merged_dir.glob("*.safetensors")) == ["model.safetensors"]
    assert AutoTokenizer.from_pretrained(merged_dir).chat_template == tiny_tokenizer.chat_template


def test_lora_target_that_does_not_exist_is_named(tiny_tokenizer, chat_file, tmp_path, tiny_train, llama):
    cfg = tiny_train(method="lora", lora={"target_modules": ["q_proj", "query_key_value"]})
    with pytest.raises(UserError, match="query_key_value") as e:
        sft(llama(), tiny_tokenizer, [chat_file], tmp_path, cfg, seed=0, device=CPU, bf16=False, max_length=128)
    assert "q_proj" in e.value.hint and "gate_proj" in e.value.hint


def test_qlora_on_cpu_is_a_clear_error(tiny_tokenizer, chat_file, tmp_path, tiny_train, llama):
    with pytest.raises(UserError, match="qlora needs a CUDA GPU") as e:
        sft(llama(), tiny_tokenizer, [chat_file], tmp_path, tiny_train(method="qlora"), seed=0, device=CPU,
            bf16=False, max_length=128)
    assert "train.method: lora" in e.value.hint
    assert not (tmp_path / "model").exists()


def test_sequence_longer_than_the_context_is_refused(tiny_tokenizer, chat_file, tmp_path, tiny_train, llama):
    with pytest.raises(UserError, match="sequence length 256 is above the model's context of 128"):
        sft(llama(), tiny_tokenizer, [chat_file], tmp_path, tiny_train(), seed=0, device=CPU, bf16=False,
            max_length=256)


def test_killed_sft_resumes_from_its_latest_checkpoint(tiny_tokenizer, chat_file, tmp_path, tiny_train, llama,
                                                       monkeypatch):
    cfg = tiny_train(validation_share=0.2)
    full = sft(llama(), tiny_tokenizer, [chat_file], tmp_path / "full", cfg, seed=0, device=CPU, bf16=False,
               max_length=128)

    real = progress.TimeBudget.on_step_end

    def kill_at_step_6(self, args, state, control, **kw):
        if state.global_step == 6:
            raise KeyboardInterrupt  # stands in for SIGKILL: nothing after this point runs
        return real(self, args, state, control, **kw)
    monkeypatch.setattr(progress.TimeBudget, "on_step_end", kill_at_step_6)
    with pytest.raises(KeyboardInterrupt):
        sft(llama(), tiny_tokenizer, [chat_file], tmp_path / "cut", cfg, seed=0, device=CPU, bf16=False, max_length=128)
    assert not (tmp_path / "cut" / "model").exists()
    monkeypatch.setattr(progress.TimeBudget, "on_step_end", real)

    resumed = sft(llama(), tiny_tokenizer, [chat_file], tmp_path / "cut", cfg, seed=0, device=CPU, bf16=False,
                  max_length=128)
    assert resumed["resumed_from"].endswith("checkpoint-4") and resumed["steps"] == 8
    assert resumed["val_loss"] == pytest.approx(full["val_loss"], abs=1e-3)
    assert resumed["train_loss"] == pytest.approx(full["train_loss"], abs=1e-3)
