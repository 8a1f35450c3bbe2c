"""Back-translation (Sennrich et al. 2016): a text to a pivot language and back is a paraphrase.

A batch of rows is translated in two calls per language (source → pivot, pivot → source), then
each copy is re-filtered: identical to its source after normalisation ("duplicate"), another
script ("language"), or a sentence-embedding cosine with its source outside the language's bounds
("too_close": it adds nothing; "too_far": the meaning changed). The cosine comes from the models
of semantic dedup (lmstack.data.embed).
"""

from __future__ import annotations

from lmstack.data.augment.config import BackTranslationConfig
from lmstack.data.augment.translate import (EndpointTranslator, FastTranslateTranslator, Seq2SeqTranslator,
                                            Translator)
from lmstack.data.embed import embedder_for
from lmstack.data.lang import script_lang
from lmstack.data.ops.dedup import dedup_key


def make_translator(cfg: BackTranslationConfig) -> Translator:
    """The translator a recipe's `augment.back_translation` section names."""
    if cfg.translator == "endpoint":
        assert cfg.base_url and cfg.model  # the config validator guarantees both
        return EndpointTranslator(cfg.base_url, cfg.model, api_key_env=cfg.api_key_env,
                                  concurrency=cfg.concurrency, retries=cfg.retries)
    if cfg.translator == "seq2seq":
        return Seq2SeqTranslator(cfg.paths, batch_size=cfg.batch_size)
    return FastTranslateTranslator()


def _embed_lang(lang: str) -> str:
    return "en" if lang == "en" else "zh"


def back_translate(batch: list[list[str]], cfg: BackTranslationConfig, translator: Translator) -> list[list[str] | str]:
    """For each row's texts: the back-translated texts, or why the copy was dropped
    ('no_pivot', 'duplicate', 'language', 'too_close', 'too_far'). Empty texts stay as they are."""
    langs = [[script_lang(t) for t in texts] for texts in batch]
    result: list[list[str] | str] = [list(texts) for texts in batch]
    by_lang: dict[str, list[tuple[int, int]]] = {}
    for r, texts in enumerate(batch):
        if any(lang not in cfg.pivot for lang, t in zip(langs[r], texts) if t.strip()):
            result[r] = "no_pivot"
            continue
        for i, text in enumerate(texts):
            if text.strip():
                by_lang.setdefault(langs[r][i], []).append((r, i))
    for lang, places in by_lang.items():
        sources = [batch[r][i] for r, i in places]
        there = translator.translate(sources, lang, cfg.pivot[lang])
        back = translator.translate(there, cfg.pivot[lang], lang)
        if len(back) != len(sources):
            raise RuntimeError(f"translator returned {len(back)} texts for {len(sources)}")
        model = embedder_for(_embed_lang(lang))
        cosines = (model.embed(sources) * model.embed(back)).sum(axis=1)
        low, high = (cfg.min_cosine_en, cfg.max_cosine_en) if _embed_lang(lang) == "en" else (cfg.min_cosine_zh, cfg.max_cosine_zh)
        for (r, i), source, new, cosine in zip(places, sources, back, cosines):
            if isinstance(result[r], str):
                continue
            reason = None
            if dedup_key(new) == dedup_key(source):
                reason = "duplicate"
            elif script_lang(new) != lang:
                reason = "language"
            elif cosine > high:
                reason = "too_close"
            elif cosine < low:
                reason = "too_far"
            if reason:
                result[r] = reason
            else:
                result[r][i] = new  # type: ignore[index]
    return result
