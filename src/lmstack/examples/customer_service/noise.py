"""Noise injectors: each turns a clean text into the kind of bad row real scraped data holds.

The table `NOISES` is the whole list of noise types, in the order `noise.jsonl` documents them. An
injector sees one text (a question, an answer or a corpus paragraph) and returns the noisy text and,
for planted personal data, the exact string planted, so a filter can be scored against the sidecar.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import opencc

from lmstack.examples.customer_service.pii import PII_MAKERS, PII_SENTENCES
from lmstack.examples.customer_service.slots import LANGS

Injector = Callable[[str, str, str, random.Random], tuple[str, str | None]]  # (text, lang, voice, rng)


@dataclass(frozen=True)
class Noise:
    name: str
    langs: tuple[str, ...]  # languages of the clean rows it can start from
    whole_row: bool  # a QA row's answer is corrupted too (an encoding error hits the whole record)
    duplicate: bool  # the sidecar's "of" names the clean row it copies
    inject: Injector


# Sentence ends: Chinese marks end a sentence outright, English ones only before a space ("3.45%").
_SENTENCE_END = re.compile(r"(?<=[。！？])|(?<=[.!?])\s+")
_JOINER = {"zh": "", "en": " "}
_TWIN_PUNCTUATION = str.maketrans("，。？！,.?!", ",.?!，。？！")
_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_SYMBOLS = "!@#$%^&*()_+-=[]{};:'\",.<>/?\\|~`…—·￥【】《》"
_REPEATABLE = "啊哈嗯？?!。.az哦~"  # no digits: a long digit run would read as planted PII
_TOO_SHORT = {"zh": ("嗯", "在吗", "？", "卡", "转账", "你好", "额", "人工"),
              "en": ("hi", "ok", "?", "pls", "yes", "hmm", "no")}
_MIN_LONG_CHARS = 2001
_S2T = opencc.OpenCC("s2t")
# Windows labels cp1252 "latin-1", and it is what mojibake usually shows ("é“¶è¡Œ"). Its five
# undefined bytes keep their latin-1 control characters; none of those is a line break.
_CP1252 = {b: bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(256)}

# Bank messages in languages the data set does not claim: a customer question, then notice lines.
_FOREIGN: dict[str, dict[str, tuple[str, ...]]] = {
    "ja": {"customer": ("キャッシュカードを紛失しました。どうすればいいですか？", "振込限度額はいくらですか？",
                        "口座を開設するには何が必要ですか？"),
           "notice": ("当行ではATMの稼働時間を変更いたします。", "詳しくは最寄りの支店までお問い合わせください。",
                      "暗証番号は他人に教えないでください。")},
    "fr": {"customer": ("J'ai perdu ma carte bancaire, que dois-je faire ?",
                        "Quel est le plafond de virement par jour ?", "Comment ouvrir un compte chez vous ?"),
           "notice": ("Nos agences sont ouvertes du lundi au vendredi.", "Ne communiquez jamais votre code à un tiers.",
                      "Les frais de virement figurent dans la grille tarifaire.")},
    "de": {"customer": ("Ich habe meine Bankkarte verloren. Was soll ich tun?",
                        "Wie hoch ist das tägliche Überweisungslimit?",
                        "Welche Unterlagen brauche ich für eine Kontoeröffnung?"),
           "notice": ("Unsere Filialen sind montags bis freitags geöffnet.",
                      "Geben Sie Ihre PIN niemals an Dritte weiter.",
                      "Die aktuellen Gebühren finden Sie im Preisverzeichnis.")},
    "ko": {"customer": ("카드를 잃어버렸어요. 어떻게 해야 하나요?", "하루 이체 한도가 얼마인가요?",
                        "계좌를 개설하려면 무엇이 필요한가요?"),
           "notice": ("영업점은 평일 오전 9시부터 오후 5시까지 운영합니다.", "비밀번호를 다른 사람에게 알려주지 마세요.",
                      "자세한 내용은 가까운 영업점에 문의하십시오.")},
}


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text) if s]


def _exact_duplicate(text: str, lang: str, voice: str, rng: random.Random) -> tuple[str, None]:
    return text, None


def _edit_once(text: str, rng: random.Random) -> str:
    i = rng.randrange(len(text))
    match rng.randrange(4):
        case 0:  # full-width ↔ half-width punctuation, the commonest copy-paste difference
            marks = [j for j, ch in enumerate(text) if ch in "，。？！,.?!"]
            if marks:
                j = rng.choice(marks)
                return text[:j] + text[j].translate(_TWIN_PUNCTUATION) + text[j + 1:]
            return text
        case 1:
            return text[:i] + text[i + 1:]
        case 2:
            return text[:i] + text[i] + text[i:]
        case _:
            return text[:i] + text[i + 1:i + 2] + text[i:i + 1] + text[i + 2:]


def _near_duplicate(text: str, lang: str, voice: str, rng: random.Random) -> tuple[str, None]:
    noisy = text
    for _ in range(rng.randint(1, 3)):
        noisy = _edit_once(noisy, rng)
    return noisy, None


def _plant_pii(kind: str, text: str, lang: str, voice: str, rng: random.Random) -> tuple[str, str]:
    value = PII_MAKERS[kind](rng)
    planted = rng.choice(PII_SENTENCES[voice][kind][lang]).format(value=value)
    parts = sentences(text)
    # Never first: that would push a greeting or a notice's heading into the middle.
    parts.insert(rng.randint(1, len(parts)), planted)
    return _JOINER[lang].join(parts), value


def _junk(text: str, lang: str, voice: str, rng: random.Random) -> tuple[str, None]:
    match rng.randrange(3):
        case 0:
            return "".join(rng.choice(_SYMBOLS) for _ in range(rng.randint(5, 40))), None
        case 1:
            row = rng.choice(_KEYBOARD_ROWS)
            mash = [row[rng.randrange(len(row) - 3):][:rng.randint(3, 6)] for _ in range(rng.randint(2, 6))]
            return "".join(mash), None
        case _:
            return rng.choice(_REPEATABLE) * rng.randint(5, 30), None


def _mojibake(text: str, lang: str, voice: str, rng: random.Random) -> tuple[str, None]:
    data = text.encode("utf-8")
    if rng.random() < 0.5:
        return "".join(_CP1252[b] for b in data), None
    return data.decode("gbk", errors="replace"), None


def _traditional(text: str, lang: str, voice: str, rng: random.Random) -> tuple[str, None]:
    return _S2T.convert(text), None


def _wrong_language(text: str, lang: str, voice: str, rng: random.Random) -> tuple[str, None]:
    foreign = rng.choice(sorted(_FOREIGN))
    pool = _FOREIGN[foreign][voice]
    if voice == "customer":
        return rng.choice(pool), None
    joiner = "" if foreign == "ja" else " "  # Japanese, like Chinese, puts no space between sentences
    return joiner.join(rng.sample(pool, rng.randint(2, len(pool)))), None


def _too_short(text: str, lang: str, voice: str, rng: random.Random) -> tuple[str, None]:
    return rng.choice(_TOO_SHORT[lang]), None


def _too_long(text: str, lang: str, voice: str, rng: random.Random) -> tuple[str, None]:
    if rng.random() < 0.5:  # pasted over and over
        return _JOINER[lang].join([text] * (_MIN_LONG_CHARS // len(text) + 1)), None
    filler = rng.choice(("。", "…", "！", "~", "="))
    return text + filler * (_MIN_LONG_CHARS + rng.randrange(500) - len(text)), None


NOISES: tuple[Noise, ...] = (
    Noise("exact_duplicate", LANGS, whole_row=False, duplicate=True, inject=_exact_duplicate),
    Noise("near_duplicate", LANGS, whole_row=False, duplicate=True, inject=_near_duplicate),
    *(Noise(kind, LANGS, whole_row=False, duplicate=False, inject=partial(_plant_pii, kind)) for kind in PII_MAKERS),
    Noise("junk", LANGS, whole_row=False, duplicate=False, inject=_junk),
    Noise("mojibake", ("zh",), whole_row=True, duplicate=False, inject=_mojibake),  # English text is ASCII: unchanged
    Noise("traditional", ("zh",), whole_row=True, duplicate=False, inject=_traditional),
    Noise("wrong_language", LANGS, whole_row=False, duplicate=False, inject=_wrong_language),
    Noise("too_short", LANGS, whole_row=False, duplicate=False, inject=_too_short),
    Noise("too_long", LANGS, whole_row=False, duplicate=False, inject=_too_long),
)
