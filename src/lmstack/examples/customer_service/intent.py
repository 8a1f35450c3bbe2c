"""One customer-service intent: how customers ask about it, and what the bank answers, in both languages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lmstack.examples.customer_service.slots import Lang


@dataclass(frozen=True)
class Intent:
    """An intent's texts, each keyed by language ("zh", "en").

    Templates name slots of `slots.SLOTS` in braces. An answer may use only slots that every question
    template of its intent uses, so an answer never mentions a value its question did not.
    """

    id: str
    name: Mapping[Lang, str]
    questions: Mapping[Lang, tuple[str, ...]]
    answer: Mapping[Lang, str]
    facts: Mapping[Lang, tuple[str, ...]]  # notice-style sentences for the unlabelled corpus, any slots
