"""The local runner stops where `lmstack serve` stops: at eos and at a chat format's end-of-turn token,
even when the checkpoint's generation config names only eos."""

from __future__ import annotations

import torch

from lmstack.eval.runners import LocalRunner
from lmstack.eval.tasks import GenerationParams


def scripted(model, script: list[int]):
    """Make greedy decoding emit `script[k]` at step k, whatever the prompt."""
    step = {"k": 0}

    def hook(module, inputs, logits):  # (B, T, V)
        forced = torch.full_like(logits[:, -1], -1e4)
        forced[:, script[min(step["k"], len(script) - 1)]] = 1e4
        step["k"] += 1
        logits[:, -1] = forced
        return logits

    return model.get_output_embeddings().register_forward_hook(hook)


def test_answers_end_at_the_end_of_turn_token(tiny_lm_dir, tiny_tokenizer):
    runner = LocalRunner.from_path(tiny_lm_dir, device="cpu", dtype="float32", batch_size=2)
    im_end, eos = tiny_tokenizer.convert_tokens_to_ids("<|im_end|>"), tiny_tokenizer.eos_token_id
    assert runner.model.generation_config.eos_token_id == eos  # the checkpoint names eos alone
    assert runner.stop_token_ids == sorted({eos, im_end}) and runner.describe()["stop_token_ids"] == runner.stop_token_ids
    words = tiny_tokenizer.encode("yes it is", add_special_tokens=False)
    handle = scripted(runner.model, [*words, im_end, *words])
    try:
        chat = runner.generate([[{"role": "user", "content": "is it?"}], "plain prompt"],
                               GenerationParams(max_new_tokens=12))
    finally:
        handle.remove()
    assert chat == ["yes it is", "yes it is"]  # not "yes it isyes it is…" after the unseen end of turn
