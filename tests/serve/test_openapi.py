"""The OpenAPI schema is part of the interface: a change to it shows up as a diff of the snapshot.

After an intended change: LMSTACK_UPDATE_SNAPSHOTS=1 pytest tests/serve/test_openapi.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from lmstack.serve.app import create_app
from lmstack.serve.protocol import ChatCompletionRequest

SNAPSHOT = Path(__file__).parent / "openapi.snapshot.json"


def test_openapi_schema_matches_the_snapshot(registry):
    schema = create_app(registry).openapi()
    text = json.dumps(schema, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    if os.environ.get("LMSTACK_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(text, encoding="utf-8")
    assert text == SNAPSHOT.read_text(encoding="utf-8")
    assert set(schema["paths"]) == {"/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/models",
                                    "/tokenize", "/detokenize", "/metrics", "/health"}


def test_chat_fields_follow_the_openai_reference_order_with_extras_last():
    fields = list(ChatCompletionRequest.model_fields)
    assert fields[:2] == ["messages", "model"]
    assert fields[-2:] == ["top_k", "ignore_eos"]
    openai_part = fields[2:-2]
    assert openai_part == sorted(openai_part)  # the reference lists the optional fields alphabetically
    assert all(f.description for f in ChatCompletionRequest.model_fields.values())
