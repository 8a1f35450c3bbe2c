"""Train a byte-level BPE tokenizer for Chinese and English, with a ChatML chat template.

    >>> from lmstack.models.tokenizer import train_tokenizer
    >>> tok = train_tokenizer(open("corpus.txt", encoding="utf-8"), vocab_size=4096,
    ...                       out_dir="runs/demo/tokenizer")                 # doctest: +SKIP
    >>> tok.decode(tok.encode("你好, world")) == "你好, world"              # doctest: +SKIP
    True

Byte-level means every string maps to bytes first, so any text (any script, emoji, stray control
characters) encodes without an unknown token and decodes back exactly; no normaliser runs, since
NFKC and friends would change the text. Encoding adds no special tokens: pretraining separates
documents with `<|endoftext|>` when it packs them, and chat text carries its own markers.

Special tokens take the first ids, in this order: `<|endoftext|>` = 0 (bos and eos), `<|pad|>` = 1,
`<|im_start|>` = 2, `<|im_end|>` = 3; `presets.config_kwargs` assumes the same ids by default.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from lmstack.atomic import atomic_path
from lmstack.errors import UserError

log = logging.getLogger(__name__)

EOS_TOKEN = "<|endoftext|>"
PAD_TOKEN = "<|pad|>"
CHAT_TOKENS = ("<|im_start|>", "<|im_end|>")
SPECIAL_TOKENS = (EOS_TOKEN, PAD_TOKEN, *CHAT_TOKENS)

# Tokens that end an assistant turn in the common chat formats (ChatML, Llama 3, Phi).
END_OF_TURN_TOKENS = ("<|im_end|>", "<|eot_id|>", "<|end|>")


def stop_token_ids(tokenizer, generation_config=None) -> list[int]:
    """Ids that end a generated answer: eos, the end-of-turn tokens of the common chat formats found
    in the vocabulary, and the eos ids of `generation_config` when given.

    The server, the eval runners and SFT checkpoints (as `generation_config.eos_token_id`, which
    HF `generate` and vLLM read) all stop on these, so an answer ends where the assistant's turn ends.
    """
    configured = getattr(generation_config, "eos_token_id", None)
    ids = set(configured if isinstance(configured, list) else [configured])
    ids.add(tokenizer.eos_token_id)
    vocab = tokenizer.get_vocab()
    ids.update(vocab[t] for t in END_OF_TURN_TOKENS if t in vocab)
    return sorted(i for i in ids if i is not None)


# Qwen2's split rule. Digits are split one by one (as Llama and Qwen do), so every number is spelt
# with the same ten tokens and arithmetic sees aligned digits; a run of letters, including a run of
# Chinese characters, stays one piece, so BPE can learn frequent words as single tokens. A
# separate CJK rule would only stop it from learning multi-character words.
PRETOKENIZE_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# ChatML. The `generation` block marks what the assistant wrote, so
# `apply_chat_template(..., return_dict=True, return_assistant_tokens_mask=True)` gives the SFT
# loss mask; it includes <|im_end|> because the model must learn to end its turn.
DEFAULT_CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['role'] == 'assistant' %}"
    "{% generation %}{{- message['content'] + '<|im_end|>' }}{% endgeneration %}{{- '\\n' }}"
    "{%- else %}"
    "{{- message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

_MIN_VOCAB = 256 + len(SPECIAL_TOKENS)  # every byte, every special token


def _count(texts: Iterable[str], seen: list[int]) -> Iterator[str]:
    """Pass `texts` through, counting them in `seen[0]` (the trainer consumes the iterator)."""
    for text in texts:
        seen[0] += 1
        yield text


def train_tokenizer(texts: Iterable[str], *, vocab_size: int, out_dir: str | os.PathLike, min_frequency: int = 2,
                    model_max_length: int = 2048) -> PreTrainedTokenizerFast:
    """Train on `texts` (streamed: any iterable of strings), save to `out_dir`, return the tokenizer.

    The result loads with `AutoTokenizer.from_pretrained(out_dir)`. Its vocabulary is `vocab_size`
    unless the corpus has too few pairs seen `min_frequency` times to merge; then it is smaller
    (logged), so size a model by `len(tokenizer)`, never by the number asked for.
    """
    if vocab_size < _MIN_VOCAB:
        raise UserError(f"vocab_size {vocab_size} is too small",
                        hint=f"use at least {_MIN_VOCAB}: 256 byte tokens plus {len(SPECIAL_TOKENS)} special tokens")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENIZE_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=list(SPECIAL_TOKENS),
        # All 256 bytes up front, so bytes the corpus never shows still encode.
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    seen = [0]
    tokenizer.train_from_iterator(_count(texts, seen), trainer)
    if seen[0] == 0:
        raise UserError("no text to train the tokenizer on", hint="check that the corpus file or dataset is not empty")
    if tokenizer.get_vocab_size() < vocab_size:
        log.warning("the corpus gave only %d tokens of the %d asked for; the tokenizer is that much smaller",
                    tokenizer.get_vocab_size(), vocab_size)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=EOS_TOKEN, eos_token=EOS_TOKEN, pad_token=PAD_TOKEN,
        additional_special_tokens=list(CHAT_TOKENS), chat_template=DEFAULT_CHAT_TEMPLATE,
        model_max_length=model_max_length,
    )
    with atomic_path(out_dir) as tmp:
        fast.save_pretrained(tmp)
    return fast
