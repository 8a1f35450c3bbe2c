"""The trained tokenizer: exact round trips in both languages, fixed special ids, ChatML with an SFT mask."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from lmstack.errors import UserError
from lmstack.models.tokenizer import DEFAULT_CHAT_TEMPLATE, SPECIAL_TOKENS, train_tokenizer

TEXTS = [
    "模型在第3天翻译客户邮件。",
    "The model translates customer emails on day 3.",
    "混合 mixed 文本 text: 1234.5 元, emoji 🙂, tab\tand\r\nnewlines  ",
    "  leading spaces, trailing spaces  ",
    "生僻字𠀀和全角ＡＢＣ，不做归一化",
]
CHAT = [
    {"role": "system", "content": "你是一个有帮助的助手。"},
    {"role": "user", "content": "翻译: good morning"},
    {"role": "assistant", "content": "早上好"},
    {"role": "user", "content": "thanks!"},
    {"role": "assistant", "content": "不客气 (you're welcome)"},
]


@pytest.mark.parametrize("text", TEXTS)
def test_round_trip_is_exact(tiny_tokenizer, text):
    ids = tiny_tokenizer.encode(text)
    assert tiny_tokenizer.decode(ids) == text
    assert tiny_tokenizer.unk_token_id is None  # byte-level: nothing is unknown


def test_vocab_size_and_special_ids(tiny_tokenizer):
    assert len(tiny_tokenizer) == 512
    assert tiny_tokenizer.convert_tokens_to_ids(list(SPECIAL_TOKENS)) == [0, 1, 2, 3]
    assert (tiny_tokenizer.bos_token_id, tiny_tokenizer.eos_token_id, tiny_tokenizer.pad_token_id) == (0, 0, 1)
    assert tiny_tokenizer.model_max_length == 2048


def test_special_tokens_are_single_tokens_and_none_is_added(tiny_tokenizer):
    assert tiny_tokenizer.encode("<|im_start|>user<|im_end|>")[0] == 2
    assert tiny_tokenizer.encode("hi") == tiny_tokenizer.encode("hi", add_special_tokens=False)
    assert 0 not in tiny_tokenizer.encode("hi")


def test_digits_are_split_one_by_one(tiny_tokenizer):
    pieces = tiny_tokenizer.tokenize("2024")
    assert pieces == ["2", "0", "2", "4"]


def test_bpe_learned_chinese_words(tiny_tokenizer):
    # "客户邮件" appears dozens of times: it must not stay 12 single bytes.
    assert len(tiny_tokenizer.encode("客户邮件")) < 12


def test_in_memory_and_reloaded_tokenizers_agree(tiny_tokenizer_dir, tmp_path, corpus_lines):
    trained = train_tokenizer(iter(corpus_lines), vocab_size=512, out_dir=tmp_path / "tok")
    reloaded = AutoTokenizer.from_pretrained(tmp_path / "tok")
    fixture = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
    for text in TEXTS:
        assert trained.encode(text) == reloaded.encode(text) == fixture.encode(text)


def test_training_streams_an_iterator(tmp_path, corpus_lines):
    tok = train_tokenizer((line for line in corpus_lines), vocab_size=300, out_dir=tmp_path / "t")
    assert len(tok) == 300


def test_chat_template_is_chatml_with_generation_prompt(tiny_tokenizer):
    assert tiny_tokenizer.chat_template == DEFAULT_CHAT_TEMPLATE
    text = tiny_tokenizer.apply_chat_template(CHAT[:2], tokenize=False, add_generation_prompt=True)
    assert text == ("<|im_start|>system\n你是一个有帮助的助手。<|im_end|>\n"
                    "<|im_start|>user\n翻译: good morning<|im_end|>\n"
                    "<|im_start|>assistant\n")
    no_prompt = tiny_tokenizer.apply_chat_template(CHAT[:2], tokenize=False)
    assert not no_prompt.endswith("assistant\n")


def test_assistant_mask_marks_exactly_the_assistant_turns(tiny_tokenizer):
    out = tiny_tokenizer.apply_chat_template(CHAT, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    ids, mask = out["input_ids"], out["assistant_masks"]
    assert len(ids) == len(mask)
    # Contiguous runs of masked tokens, one per assistant turn, each decoding to content + <|im_end|>.
    runs, current = [], []
    for token, keep in zip(ids, mask, strict=True):
        if keep:
            current.append(token)
        elif current:
            runs.append(current)
            current = []
    runs += [current] if current else []
    assert [tiny_tokenizer.decode(run) for run in runs] == ["早上好<|im_end|>", "不客气 (you're welcome)<|im_end|>"]


def test_too_small_vocab_is_a_user_error(tmp_path):
    with pytest.raises(UserError) as err:
        train_tokenizer(["abc"], vocab_size=100, out_dir=tmp_path / "t")
    assert "260" in err.value.hint


def test_empty_corpus_is_a_user_error_and_writes_nothing(tmp_path):
    with pytest.raises(UserError):
        train_tokenizer([], vocab_size=300, out_dir=tmp_path / "t")
    assert not (tmp_path / "t").exists()
