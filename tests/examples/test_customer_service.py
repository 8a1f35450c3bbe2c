"""The customer-service example: deterministic, complete in every split, and honest about its noise.

The validators here are written independently of `pii.py`, so a bug there cannot hide itself.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from pathlib import Path

import opencc
import pytest
from datasketch import MinHash, MinHashLSH

from lmstack.examples.customer_service import generate
from lmstack.examples.customer_service.intent import Intent
from lmstack.examples.customer_service.intents import check_intents
from lmstack.examples.customer_service.noise import NOISES
from lmstack.examples.customer_service.questions import SHINGLES
from lmstack.examples.customer_service.similarity import near_duplicate, shingles

NOISY_FILES = ("qa/train.jsonl", "corpus/domain.jsonl")
SPLIT_FILES = ("qa/train.jsonl", "qa/validation.jsonl", "qa/test.jsonl")
NOISE_TYPES = {"exact_duplicate", "near_duplicate", "pii_resident_id", "pii_mobile", "pii_bank_card", "pii_email",
               "junk", "mojibake", "traditional", "wrong_language", "too_short", "too_long"}
PII_DIGITS = re.compile(r"\d{11,}")


def read_jsonl(path: Path) -> list[dict]:
    # Split on "\n" only: str.splitlines would also break inside rows on characters like U+0085.
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line]


def texts(row: dict) -> list[str]:
    return [row["text"]] if "text" in row else [row["question"], row["answer"]]


def resident_id_ok(s: str) -> bool:
    if not re.fullmatch(r"\d{17}[\dX]", s):
        return False
    total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(s[:17]))
    check = (12 - total % 11) % 11
    return s[17] == ("X" if check == 10 else str(check))


def birth_date_ok(s: str) -> bool:
    try:
        born = datetime.strptime(s[6:14], "%Y%m%d")
    except ValueError:
        return False
    return datetime(1900, 1, 1) <= born <= datetime.now()


def luhn_ok(s: str) -> bool:
    digits = [int(d) for d in reversed(s)]
    total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
    return total % 10 == 0


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("cs") / "small"
    return out, generate(out, seed=0, scale=0.2)


@pytest.fixture(scope="module")
def full(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("cs") / "full"
    return out, generate(out, seed=0, scale=1.0)


@pytest.fixture(scope="module", params=["small", "full"])
def dataset(request) -> tuple[Path, dict]:
    return request.getfixturevalue(request.param)


def digests(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        generate(tmp_path / name, seed=seed, scale=0.1)
    a, b, c = (digests(tmp_path / name) for name in "abc")
    assert len(a) == 7 and a == b
    assert all(a[name] != c[name] for name in ("qa/train.jsonl", "corpus/domain.jsonl", "noise.jsonl"))


def test_intents_table(small):
    out, summary = small
    intents = json.loads((out / "intents.json").read_text(encoding="utf-8"))
    ids = [i["id"] for i in intents]
    assert len(ids) >= 24 and len(set(ids)) == len(ids) == summary["n_intents"]
    assert all(i["name_zh"] and i["name_en"] for i in intents)


def test_answer_may_not_use_a_slot_its_question_lacks():
    bad = Intent(id="x", name={"zh": "x", "en": "x"}, questions={"zh": ("怎么办？",), "en": ("What now?",)},
                 answer={"zh": "请带{card}。", "en": "Bring it."}, facts={"zh": (), "en": ()})
    with pytest.raises(ValueError, match="card"):
        check_intents((bad,))


@pytest.mark.parametrize("scale", [0.1, 0.2])
def test_every_split_has_every_intent_in_both_languages(tmp_path, scale):
    summary = generate(tmp_path, seed=3, scale=scale)
    for file in SPLIT_FILES:
        pairs = {(r["intent"], r["lang"]) for r in read_jsonl(tmp_path / file)}
        assert len(pairs) == 2 * summary["n_intents"], file
    for file in NOISY_FILES:
        assert {name for name, n in summary["noise"][file].items() if n >= 1} == NOISE_TYPES


def test_splits_are_disjoint_by_question(dataset):
    out, _ = dataset
    questions = {file: {r["question"] for r in read_jsonl(out / file)} for file in SPLIT_FILES}
    train, validation, test = questions.values()
    assert not train & validation and not train & test and not validation & test


def test_clean_rows_are_no_near_duplicates(dataset):
    """Questions of one intent and language (across splits), and corpus paragraphs of one language,
    share less than 80% of their shingles unless the sidecar lists one as planted noise."""
    out, _ = dataset
    noisy = {(e["file"], e["line"]) for e in read_jsonl(out / "noise.jsonl")}
    groups: dict[tuple, list[frozenset[str]]] = {}
    for file in (*SPLIT_FILES, "corpus/domain.jsonl"):
        for line, row in enumerate(read_jsonl(out / file), start=1):
            if (file, line) in noisy:
                continue
            if "question" in row:
                key, grams = ("qa", row["intent"], row["lang"]), shingles(row["question"], SHINGLES[row["lang"]])
            else:  # the corpus keeps no intent: every paragraph against every other of its language
                key, grams = ("corpus", row["lang"]), shingles(row["text"], 5)
            groups.setdefault(key, []).append(grams)
    pairs = []
    for key, sets in groups.items():
        # candidates from datasketch's LSH at a lower threshold, then the exact Jaccard
        lsh = MinHashLSH(threshold=0.6, num_perm=64)
        for i, grams in enumerate(sets):
            sketch = MinHash(num_perm=64)
            sketch.update_batch([g.encode() for g in grams])
            pairs += [(key, i, j) for j in lsh.query(sketch) if near_duplicate(grams, sets[j])]
            lsh.insert(i, sketch)
    assert pairs == []
    assert sum(len(sets) for sets in groups.values()) == sum(len(read_jsonl(out / f)) for f in
                                                             (*SPLIT_FILES, "corpus/domain.jsonl")) - len(noisy)
    assert near_duplicate(shingles("您好，我的卡丢了。", 3), shingles("我的卡丢了。", 3)) is False  # 3 of 5 shingles shared
    assert near_duplicate(shingles("Hello. I lost my card.", 4), shingles("Hello, I lost my card!", 4))


def test_rows_keep_the_schema(dataset):
    out, summary = dataset
    for file in SPLIT_FILES:
        rows = read_jsonl(out / file)
        assert len(rows) == summary["files"][file]
        for r in rows:
            assert list(r) == ["id", "intent", "lang", "question", "answer", "messages"]
            assert r["lang"] in ("zh", "en")
            assert r["messages"] == [{"role": "user", "content": r["question"]},
                                     {"role": "assistant", "content": r["answer"]}]
    ids = [r["id"] for file in (*SPLIT_FILES, "corpus/domain.jsonl") for r in read_jsonl(out / file)]
    assert len(set(ids)) == len(ids)


def test_sidecar_points_at_the_rows_it_names(dataset):
    out, _ = dataset
    rows = {file: read_jsonl(out / file) for file in NOISY_FILES}
    lines = {file: {r["id"]: i for i, r in enumerate(rs, start=1)} for file, rs in rows.items()}
    entries = read_jsonl(out / "noise.jsonl")
    assert {e["noise"] for e in entries} == NOISE_TYPES
    for e in entries:
        row = rows[e["file"]][e["line"] - 1]
        assert row["id"] == e["id"]
        if e["noise"].endswith("duplicate"):
            assert lines[e["file"]][e["of"]] < e["line"]  # the copy comes after its source
            source = rows[e["file"]][lines[e["file"]][e["of"]] - 1]
            assert (texts(source) == texts(row)) == (e["noise"] == "exact_duplicate")
        else:
            assert e["of"] is None
        if e["noise"].startswith("pii_"):
            assert e["span"] in texts(row)[0]
        else:
            assert e["span"] is None


def test_pii_spans_are_valid(dataset):
    out, _ = dataset
    spans: dict[str, list[str]] = {}
    for e in read_jsonl(out / "noise.jsonl"):
        spans.setdefault(e["noise"], []).append(e["span"])
    assert all(resident_id_ok(s) and birth_date_ok(s) for s in spans["pii_resident_id"])
    assert all(re.fullmatch(r"\d{16,19}", s) and luhn_ok(s) for s in spans["pii_bank_card"])
    assert all(re.fullmatch(r"1[3-9]\d{9}", s) for s in spans["pii_mobile"])
    assert all(re.fullmatch(r"[\w.+-]+@[\w-]+(\.[\w-]+)+", s) for s in spans["pii_email"])


def test_independent_validators_reject_near_misses():
    assert resident_id_ok("11010519491231002X") and not resident_id_ok("110105194912310021")
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert not birth_date_ok("110105194902310021")


def test_traditional_rows_are_traditional(dataset):
    out, _ = dataset
    t2s = opencc.OpenCC("t2s")
    rows = {file: read_jsonl(out / file) for file in NOISY_FILES}
    for e in read_jsonl(out / "noise.jsonl"):
        if e["noise"] == "traditional":
            text = texts(rows[e["file"]][e["line"] - 1])[0]
            assert t2s.convert(text) != text


def test_shapes_of_short_long_and_mojibake_rows(dataset):
    out, _ = dataset
    rows = {file: read_jsonl(out / file) for file in NOISY_FILES}
    for e in read_jsonl(out / "noise.jsonl"):
        text = texts(rows[e["file"]][e["line"] - 1])[0]
        if e["noise"] == "too_short":
            assert 1 <= len(text) <= 3
        elif e["noise"] == "too_long":
            assert len(text) > 2000
        elif e["noise"] == "mojibake":  # both codecs mangle the bank's name and full-width punctuation
            assert "兰亭" not in text and not re.search("[，。？]", text), text


def test_noise_share_and_clean_splits(dataset):
    out, summary = dataset
    entries = read_jsonl(out / "noise.jsonl")
    assert len(entries) == sum(sum(counts.values()) for counts in summary["noise"].values())
    for file in NOISY_FILES:
        share = sum(e["file"] == file for e in entries) / len(read_jsonl(out / file))
        assert 0.06 <= share <= 0.15, (file, share)
    noisy_ids = {e["id"] for e in entries}
    for file in ("qa/validation.jsonl", "qa/test.jsonl"):
        assert not noisy_ids & {r["id"] for r in read_jsonl(out / file)}


def test_no_pii_outside_listed_rows(dataset):
    """A PII filter can be scored against the sidecar only if unlisted rows hold no PII-like digit runs."""
    out, _ = dataset
    pii_rows = {(e["file"], e["line"]): e["noise"] for e in read_jsonl(out / "noise.jsonl")
                if e["noise"].startswith("pii_")}
    for file in (*SPLIT_FILES, "corpus/domain.jsonl"):
        for line, row in enumerate(read_jsonl(out / file), start=1):
            found = any(PII_DIGITS.search(t) for t in texts(row))
            assert found == (pii_rows.get((file, line), "pii_email") != "pii_email"), (file, line)


def test_noise_table_matches_documented_types():
    assert [n.name for n in NOISES] == ["exact_duplicate", "near_duplicate", "pii_resident_id", "pii_mobile",
                                        "pii_bank_card", "pii_email", "junk", "mojibake", "traditional",
                                        "wrong_language", "too_short", "too_long"]


def test_full_scale_sizes(full):
    out, summary = full
    assert summary["n_intents"] >= 24
    assert summary["splits"]["train"] >= 1500
    assert all(n >= 5 for counts in summary["noise"].values() for n in counts.values())
    corpus = read_jsonl(out / "corpus/domain.jsonl")
    text_bytes = sum(len(r["text"].encode("utf-8")) for r in corpus)
    assert 1_000_000 <= text_bytes <= 1_500_000
    zh = sum(r["lang"] == "zh" for r in corpus) / len(corpus)
    assert 0.4 <= zh <= 0.6
    assert summary["bytes"]["corpus/domain.jsonl"] == (out / "corpus/domain.jsonl").stat().st_size


def test_clean_paragraphs_hold_two_to_six_sentences(small):
    out, _ = small
    noisy = {e["line"] for e in read_jsonl(out / "noise.jsonl") if e["file"] == "corpus/domain.jsonl"}
    ends = re.compile(r"[。！？]|[.!?](?=\s|$)")
    counts = [len(ends.findall(r["text"])) for i, r in enumerate(read_jsonl(out / "corpus/domain.jsonl"), start=1)
              if i not in noisy]
    assert min(counts) >= 2 and max(counts) <= 6
