"""seq2seq: pairs with configurable fields, learning on a tiny Marian model, generations and BLEU."""

import json

import pytest
import torch
from transformers import AutoModelForSeq2SeqLM, DataCollatorForSeq2Seq

from lmstack.errors import UserError
from lmstack.models.build import build_model
from lmstack.train.chat_tokens import IGNORE_INDEX
from lmstack.train.pair_data import read_pairs
from lmstack.train.seq2seq import bleu, encode_pair, seq2seq

CPU = torch.device("cpu")
PAIRS = [("card limit", "5000 per day"), ("reset password", "use the app"), ("branch hours", "nine to five"),
         ("信用卡额度", "每天5000元"), ("transfer time", "two days"), ("重置密码", "请用手机银行")]


@pytest.fixture
def marian(tiny_tokenizer):
    t = tiny_tokenizer
    return build_model("seq2seq-2m", vocab_size=len(t), pad_token_id=t.pad_token_id, bos_token_id=t.bos_token_id,
                       eos_token_id=t.eos_token_id, max_position_embeddings=64, seed=0)


@pytest.fixture
def pair_files(tmp_path, write_jsonl):
    rows = [{"src": s, "tgt": t} for s, t in PAIRS]
    return write_jsonl(tmp_path / "train.jsonl", rows), write_jsonl(tmp_path / "val.jsonl", rows[:4])


def loss_on(model, tok, pairs) -> float:
    batch = DataCollatorForSeq2Seq(tok, padding=True, label_pad_token_id=IGNORE_INDEX)(
        [encode_pair(tok, s, t, 64) for s, t in pairs])
    model.eval()
    with torch.no_grad():
        return model(**batch).loss.item()


def test_pairs_use_the_configured_fields_and_reject_with_line_numbers(tmp_path, write_jsonl):
    path = write_jsonl(tmp_path / "p.jsonl", [{"q": "a", "a": "b"}, {"q": "c"}, {"q": "", "a": "d"}, "{", {"q": "e", "a": "f"}])
    data = read_pairs([path], source_field="q", target_field="a")
    assert data.pairs == [("a", "b"), ("e", "f")]
    assert [(r.line, r.reason.split(" (")[0]) for r in data.rejects] == [
        (2, "no 'a' field"), (3, "'q' must be non-empty text"), (4, "not valid JSON")]
    with pytest.raises(UserError, match=r"p.jsonl:1: no 'question' field") as e:
        read_pairs([path], source_field="question", target_field="answer")
    assert "train.source_field" in e.value.hint


def test_encode_pair_ends_both_sides_with_eos(tiny_tokenizer):
    row = encode_pair(tiny_tokenizer, "card limit", "5000", 64)
    eos = tiny_tokenizer.eos_token_id
    assert row["input_ids"][-1] == eos and row["labels"][-1] == eos
    assert tiny_tokenizer.decode(row["labels"][:-1]) == "5000"
    assert len(encode_pair(tiny_tokenizer, "card limit " * 50, "x", 16)["input_ids"]) == 16


def test_bleu_matches_sacrebleu_on_known_strings():
    assert bleu(["the cat sat on the mat"], ["the cat sat on the mat"]) == 100.0
    assert bleu(["每天五千元"], ["每天五千元"]) == 100.0
    assert bleu(["a b c d"], ["w x y z"]) == 0.0


def test_tiny_seq2seq_learns_and_writes_generations(marian, tiny_tokenizer, pair_files, tmp_path, tiny_train):
    train_file, val_file = pair_files
    cfg = tiny_train(max_steps=20, lr=3e-3, warmup_ratio=0.1, batch_size=6, source_field="src", target_field="tgt",
                     generation_examples=3, sample_max_new_tokens=8, save_every=20, eval_every=20)
    before = loss_on(marian, tiny_tokenizer, PAIRS)
    m = seq2seq(marian, tiny_tokenizer, [train_file], tmp_path / "run", cfg, seed=0, device=CPU, bf16=False,
                max_length=64, validation_files=[val_file])
    after = loss_on(marian, tiny_tokenizer, PAIRS)
    assert m["steps"] == 20 and m["train_rows"] == 6 and m["validation_rows"] == 4 and m["rejected_rows"] == 0
    assert after < before - 2.0, (before, after)
    rows = [json.loads(line) for line in (tmp_path / "run" / "generations.jsonl").read_text().splitlines()]
    assert [(r["source"], r["reference"]) for r in rows] == PAIRS[:3]
    assert all(isinstance(r["generation"], str) for r in rows)
    assert 0.0 <= m["bleu"] <= 100.0
    reloaded = AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "run" / "model")
    assert loss_on(reloaded, tiny_tokenizer, PAIRS) == pytest.approx(after, abs=1e-5)


def test_a_causal_lm_is_refused(llama, tiny_tokenizer, pair_files, tmp_path, tiny_train):
    with pytest.raises(UserError, match="encoder-decoder"):
        seq2seq(llama(), tiny_tokenizer, [pair_files[0]], tmp_path, tiny_train(), seed=0, device=CPU, bf16=False,
                max_length=64)
