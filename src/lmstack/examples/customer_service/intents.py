"""The full intent table: every intent the example knows, checked once at import."""

from __future__ import annotations

from lmstack.examples.customer_service.intent import Intent
from lmstack.examples.customer_service.intents_accounts import ACCOUNT_INTENTS
from lmstack.examples.customer_service.intents_cards import CARD_INTENTS
from lmstack.examples.customer_service.intents_digital import DIGITAL_INTENTS
from lmstack.examples.customer_service.intents_loans import LOAN_INTENTS
from lmstack.examples.customer_service.intents_transfers import TRANSFER_INTENTS
from lmstack.examples.customer_service.slots import LANGS, SLOTS, slot_names

INTENTS: tuple[Intent, ...] = CARD_INTENTS + TRANSFER_INTENTS + ACCOUNT_INTENTS + LOAN_INTENTS + DIGITAL_INTENTS


def check_intents(intents: tuple[Intent, ...]) -> None:
    """Raise ValueError on a table a generator could not use: duplicate ids, unknown slots, or an answer
    that names a slot some question of its intent lacks (it would be filled with a value never asked about)."""
    ids = [intent.id for intent in intents]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate intent ids in {ids}")
    for intent in intents:
        for lang in LANGS:
            templates = intent.questions[lang] + intent.facts[lang] + (intent.answer[lang],)
            unknown = {name for t in templates for name in slot_names(t)} - SLOTS.keys()
            if unknown:
                raise ValueError(f"{intent.id}/{lang}: unknown slots {sorted(unknown)}; add them to slots.SLOTS")
            for question in intent.questions[lang]:
                missing = set(slot_names(intent.answer[lang])) - set(slot_names(question))
                if missing:
                    raise ValueError(f"{intent.id}/{lang}: answer uses {sorted(missing)} but {question!r} does not")


check_intents(INTENTS)
