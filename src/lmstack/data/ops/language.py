"""Language identification with py3langid (offline; its model ships inside the wheel)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from lmstack.data.ops.base import Outcome, Params, drop_on_first, register


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def language_scores(text: str) -> dict[str, float]:
    """Probability of each of py3langid's 97 languages for `text`."""
    return dict(_identifier().rank(text))


class LanguageParams(Params):
    languages: list[str] = Field(["zh", "en"], min_length=1, description="ISO 639-1 codes of the languages to keep.")
    min_score: float = Field(0.5, ge=0, le=1, description="Smallest probability, summed over `languages`, that a text must reach.")
    min_chars: int = Field(8, ge=1, description="Shorter texts are not judged: a few characters do not show a language.")


@register("language", "filter", LanguageParams)
class Language:
    """Remove rows whose text is not in one of `languages` with probability ≥ `min_score`.

    The probability is summed over the kept languages, so a short English text that the model
    half-confuses with another language it keeps is not removed for that.

    >>> Language(LanguageParams())(["Ich habe meine Bankkarte verloren."]).reason
    'language: de (0.997), zh+en 0.000 < 0.5'
    """

    def __init__(self, p: LanguageParams):
        self.p = p

    def _check(self, text: str) -> str | None:
        if len(text.strip()) < self.p.min_chars:
            return None
        scores = language_scores(text)
        kept = sum(scores.get(lang, 0.0) for lang in self.p.languages)
        if kept >= self.p.min_score:
            return None
        top = max(scores, key=scores.__getitem__)
        return f"language: {top} ({scores[top]:.3f}), {'+'.join(self.p.languages)} {kept:.3f} < {self.p.min_score}"

    def __call__(self, texts: list[str]) -> Outcome:
        return drop_on_first(self._check, texts)
