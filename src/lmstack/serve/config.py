"""The `serve` section of a project (step five)."""

from __future__ import annotations

from pydantic import Field

from lmstack.config.base import Section


class ServeSection(Section):
    host: str = Field("127.0.0.1", description="Bind address. Loopback by default; 0.0.0.0 exposes the server.")
    port: int = Field(8000, ge=1, le=65535, description="TCP port.")
    db_url: str | None = Field(
        None, description="SQLAlchemy URL for API keys and usage (LMSTACK_DB_URL overrides). "
                          "Default: a SQLite file in the run directory."
    )
    max_batch_size: int = Field(16, ge=1, description="Sequences decoded together by the engine.")
    prefill_chunk_tokens: int | None = Field(
        None, ge=1, description="Prompt tokens one step of the lmstack engine takes beside the decoding rows: fewer "
                                "keep everyone's next token coming while long prompts arrive, more prefill sooner. "
                                "Default: 256 (vLLM's --max-num-batched-tokens plays this part).")
    max_queue: int = Field(256, ge=1, description="Requests waiting beyond this answer 429.")
    max_body_bytes: int = Field(1_000_000, ge=1024, description="Larger request bodies answer 413.")
    max_n: int = Field(8, ge=1, description="Most choices one request may ask for (`n`); more answer 400.")
    max_stop_strings: int = Field(8, ge=0, description="Most stop strings per request; more answer 400.")
    max_stop_chars: int = Field(128, ge=1, description="Longest stop string, in characters.")
    max_top_logprobs: int = Field(20, ge=0, description="Largest `top_logprobs` (chat) or `logprobs` (completions).")
    drain_timeout_s: float = Field(30.0, ge=0, description="On SIGTERM, in-flight requests get this long to finish.")
