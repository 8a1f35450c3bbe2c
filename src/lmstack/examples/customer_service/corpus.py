"""The unlabelled domain corpus: FAQ entries and notices about the same products the intents cover.

A paragraph is built from one intent's texts (its facts, a run of its answer, or a question and the
answer as an FAQ entry) plus a genre opener and closer, with one value per slot for the whole
paragraph, so a notice never names two cities. Paragraphs hold 2–6 sentences. No paragraph is a
near-duplicate of an earlier one (`similarity.py`): an FAQ entry and a notice built on the same answer
would otherwise differ only in "Q: …" or a heading, and about one paragraph in seven did.
"""

from __future__ import annotations

import random

from lmstack.examples.customer_service.intent import Intent
from lmstack.examples.customer_service.intents import INTENTS
from lmstack.examples.customer_service.noise import sentences
from lmstack.examples.customer_service.similarity import NearDuplicates
from lmstack.examples.customer_service.slots import LANGS, SLOTS, fill

MIN_SENTENCES, MAX_SENTENCES = 2, 6
P_FAQ = 0.35
_TRIES_PER_PARAGRAPH = 100
_JOINER = {"zh": "", "en": " "}
SHINGLE = 5  # characters, as the example recipe's near_dup_corpus step compares paragraphs

# Openers lead into the first sentence (they end in a colon, so they add no sentence of their own).
OPENERS: dict[str, tuple[str, ...]] = {
    "zh": ("兰亭银行{city}分行温馨提示：", "【兰亭银行公告】", "尊敬的客户：", "服务指南：", "兰亭银行提醒您：",
           "【{city}分行】", "业务须知："),
    "en": ("Lanting Bank {city} Branch notice:", "Notice from Lanting Bank:", "Dear customers:", "Service guide:",
           "A reminder from Lanting Bank:", "Customer information:"),
}
CLOSERS: dict[str, tuple[str, ...]] = {
    "zh": ("如有疑问，请拨打兰亭银行客服热线95386。", "详情请咨询兰亭银行各营业网点。", "感谢您对兰亭银行的信任与支持。",
           "本公告自{date}起生效。", "具体以兰亭银行官网公布的信息为准。", "请通过官方渠道下载兰亭银行App，谨防假冒网站。",
           "兰亭银行{city}分行各网点地址可在手机银行“网点查询”中查看。"),
    "en": ("For questions, call the Lanting Bank hotline on 95386.",
           "Please ask at any Lanting Bank branch for details.",
           "Thank you for banking with Lanting Bank.", "This notice takes effect on {date}.",
           "The information on the Lanting Bank website prevails.",
           "Download the Lanting Bank app only from official stores and beware of fake websites.",
           "Addresses of Lanting Bank branches in {city} are listed under Find a Branch in the app."),
}
FAQ_LABELS: dict[str, tuple[str, str]] = {"zh": ("问：", "答："), "en": ("Q: ", "A: ")}


def _faq(intent: Intent, lang: str, rng: random.Random) -> list[str]:
    question, answer = FAQ_LABELS[lang]
    asked = sentences(rng.choice(intent.questions[lang]))
    told = sentences(intent.answer[lang])[:MAX_SENTENCES - len(asked)]
    return [question + asked[0], *asked[1:], answer + told[0], *told[1:]]


def _notice(intent: Intent, lang: str, rng: random.Random) -> list[str]:
    facts = intent.facts[lang]
    chosen = [facts[i] for i in sorted(rng.sample(range(len(facts)), rng.randint(0, len(facts))))]
    # The answer's first sentences only: later ones refer back ("在此期间", "If that doesn't work").
    told = sentences(intent.answer[lang])
    chosen += told[:rng.randint(0, MAX_SENTENCES - 1 - len(chosen))]
    if rng.random() < 0.6 or len(chosen) < MIN_SENTENCES:
        chosen.append(rng.choice(CLOSERS[lang]))
    if len(chosen) < MIN_SENTENCES:
        chosen.insert(0, told[0])
    if rng.random() < 0.5:
        chosen[0] = rng.choice(OPENERS[lang]) + ("" if lang == "zh" else " ") + chosen[0]
    return chosen


def paragraph(intent: Intent, lang: str, rng: random.Random) -> str:
    """One paragraph about `intent`, every slot filled with one value for the whole text."""
    parts = _faq(intent, lang, rng) if rng.random() < P_FAQ else _notice(intent, lang, rng)
    values = {name: rng.choice(options) for name, options in SLOTS.items()}
    return fill(_JOINER[lang].join(parts), values, lang)


def domain_corpus(n: int, rng: random.Random) -> list[tuple[str, str]]:
    """`n` (lang, paragraph) pairs, none a near-duplicate of another, alternating languages so the
    corpus is half zh, half en."""
    kept = NearDuplicates({lang: SHINGLE for lang in LANGS})
    rows: list[tuple[str, str]] = []
    for _ in range(n * _TRIES_PER_PARAGRAPH):
        if len(rows) == n:
            break
        lang, intent = LANGS[len(rows) % len(LANGS)], rng.choice(INTENTS)
        text = paragraph(intent, lang, rng)
        if kept.add(intent.id, lang, text):
            rows.append((lang, text))
    if len(rows) < n:
        raise ValueError(f"only {len(rows)} paragraphs of {n} wanted are not near-duplicates; add facts or lower "
                         "the scale")
    return rows
