"""The `bench` section of a project: the load `lmstack run` puts on the served model."""

from __future__ import annotations

from pydantic import Field

from lmstack.config.base import Section


class BenchSection(Section):
    """After evaluation, `lmstack run` serves the final model on a loopback port and measures it under
    each concurrency in turn, with `lmstack bench serve`'s protocol (fixed lengths, ignore_eos)."""

    enabled: bool = Field(True, description="Measure TTFT, TPOT and QPS of the served model.")
    concurrency: list[int] = Field([1, 4], min_length=1, description="Load shapes: requests in flight at once.")
    num_prompts: int = Field(8, ge=1, le=100_000, description="Requests per load shape.")
    input_len: int = Field(32, ge=1, description="Prompt tokens per request.")
    output_len: int = Field(32, ge=2, description="Tokens generated per request (end of sequence ignored).")
    warmup: int = Field(1, ge=0, description="Requests sent one at a time before each measurement.")
    slo_ttft_ms: float | None = Field(None, gt=0, description="TTFT objective for goodput; default plan.ttft_ms.")
    slo_tpot_ms: float | None = Field(None, gt=0, description="TPOT objective for goodput; default plan.tpot_ms.")
