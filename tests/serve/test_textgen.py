"""The text layer alone: incremental detokenization and stop strings."""

from __future__ import annotations

import pytest

from lmstack.serve.textgen import IncrementalDetokenizer, StopMatcher


def test_incremental_detokenization_equals_decoding_everything(tiny_tokenizer):
    text = "我的朋友在第12天翻译客户邮件。 The model checks 42 invoices! 🙂"
    ids = tiny_tokenizer.encode(text, add_special_tokens=False)
    detok = IncrementalDetokenizer(tiny_tokenizer)
    pieces = [detok.add(i) for i in ids] + [detok.flush()]
    assert "".join(pieces) == text
    assert all("\ufffd" not in p for p in pieces)  # split characters are held until whole


@pytest.mark.parametrize("deltas,stops,sent,stopped", [
    (["Hello wor", "ld. STO", "P here"], ["STOP"], ["Hello wor", "ld. ", ""], True),
    (["ab", "c"], ["abd"], ["", "abc"], False),  # "ab" might begin "abd": held, then released
    (["x", "END"], ["END", "x"], [""], True),  # the earliest match wins
    (["no stop"], [], ["no stop"], False),
])
def test_stop_matcher(deltas, stops, sent, stopped):
    m = StopMatcher(stops)
    out, hit = [], False
    for d in deltas:
        text, hit = m.feed(d)
        out.append(text)
        if hit:
            break
    if not hit:
        out[-1] += m.flush()
    assert out == sent and hit == stopped
