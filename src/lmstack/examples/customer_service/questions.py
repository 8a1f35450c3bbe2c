"""Paraphrases: question template × slot values × greeting or asking phrase × closing phrase.

No two questions of an intent are near-duplicates (`similarity.py`): "Hi. I lost my card." and "I lost
my card." are not both drawn, so the near-duplicates a cleaning run finds are the planted ones.
"""

from __future__ import annotations

import random

from lmstack.examples.customer_service.intent import Intent
from lmstack.examples.customer_service.similarity import NearDuplicates
from lmstack.examples.customer_service.slots import (ASKS, GREETINGS, P_PREFIX, P_SUFFIX, SLOTS, SUFFIXES,
                                                     fill, slot_names)

# Tries per wanted question before giving up: small intents run out of distinct combinations.
_TRIES_PER_QUESTION = 200
SHINGLES = {"zh": 3, "en": 4}  # characters, as the example recipe's near_dup_questions step compares questions


def paraphrase(intent: Intent, lang: str, rng: random.Random) -> tuple[str, str]:
    """One (question, answer) pair: a random template with random slot values and wrappers."""
    template = rng.choice(intent.questions[lang])
    values = {name: rng.choice(SLOTS[name]) for name in slot_names(template)}
    question = fill(template, values, lang)
    if rng.random() < P_PREFIX:
        # An asking phrase ("请问") only fits before a real question; greetings fit anything.
        is_question = question.endswith(("？", "?"))
        question = rng.choice(GREETINGS[lang] + ASKS[lang] if is_question else GREETINGS[lang]) + question
    if rng.random() < P_SUFFIX:
        question += rng.choice(SUFFIXES[lang])
    return question, fill(intent.answer[lang], values, lang)


def distinct_paraphrases(intent: Intent, lang: str, n: int, rng: random.Random,
                         taken: set[str]) -> list[tuple[str, str]]:
    """`n` pairs whose questions are not in `taken` (which is updated), so no question text repeats
    anywhere in the data set and splits cannot share one, and none is a near-duplicate of another."""
    pairs: list[tuple[str, str]] = []
    kept = NearDuplicates(SHINGLES)
    for _ in range(n * _TRIES_PER_QUESTION):
        if len(pairs) == n:
            break
        question, answer = paraphrase(intent, lang, rng)
        if question not in taken and kept.add(intent.id, lang, question):
            taken.add(question)
            pairs.append((question, answer))
    if len(pairs) < n:
        raise ValueError(f"{intent.id}/{lang}: only {len(pairs)} distinct questions of {n} wanted that are not "
                         "near-duplicates; "
                         "add question templates or lower the scale")
    return pairs
