"""The `plan` section of a project: the scenario that step one fits a strategy and model sizes to.

Every field has a default, so a project without a `plan:` section still validates; `lmstack plan`
reads the same section from a scenario file or a whole project file.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from lmstack.config.base import Section

Task = Literal["qa", "dialogue", "summarisation", "classification", "extraction", "code", "image_text_retrieval"]
TASKS: tuple[str, ...] = Task.__args__


class HardwareSection(Section):
    """Where the model runs: this machine (measured) or declared devices from the built-in table."""

    device: str = Field(
        "cpu",
        description="cpu: this machine, its bandwidth and FLOP/s measured as `lmstack env` does; or a GPU "
                    "from the built-in table (H100, H200, A100-80G, A100-40G, L40S, L4, A10, RTX-4090, T4, V100).",
    )
    count: int = Field(1, ge=1, le=64, description="Devices per replica (GPUs split one model by tensor parallelism).")
    price_per_device_hour: float | None = Field(
        None, ge=0, description="What one device costs per hour (any currency); costs are left out when unset.",
    )
    max_devices: int | None = Field(
        None, ge=1,
        description="Most devices the deployment may use in all; a model that needs more replicas than fit "
                    "is listed but not recommended.",
    )
    memory_gb: float | None = Field(
        None, gt=0, description="Override the device memory in GB (default: the table's, or this machine's RAM).",
    )
    deployment: Literal["on_premises", "cloud"] = Field(
        "on_premises",
        description="on_premises: data stays in house, so a general model is self-hosted too; cloud: rented devices.",
    )


class PlanDataSection(Section):
    """How much data the project has: decides how far fine-tuning can go and how long it takes."""

    labelled_rows: int = Field(0, ge=0, description="Labelled examples (question/answer pairs, chats, labels).")
    tokens_per_row: int = Field(256, ge=1, description="Mean tokens in one labelled example, prompt and answer.")
    unlabelled_tokens: int = Field(0, ge=0, description="Tokens of raw domain text (corpus) for continued pretraining.")
    unlabelled_rows: int = Field(
        0, ge=0,
        description="Raw domain documents, when their token count is unknown (counted at tokens_per_row each).",
    )
    epochs: float = Field(3.0, gt=0, le=100, description="Passes over the labelled rows when fine-tuning.")


class PlanSection(Section):
    """Scenario inputs for step one (scenario fit and model selection)."""

    task: Task = Field(
        "qa",
        description="What the model does for users: qa, dialogue, summarisation, classification, extraction, "
                    "code (code assistance) or image_text_retrieval.",
    )
    peak_qps: float | None = Field(None, ge=0, description="Peak requests per second the service must carry.")
    ttft_ms: float | None = Field(None, gt=0, description="Target time to first token, milliseconds.")
    tpot_ms: float | None = Field(None, gt=0, description="Target time per output token, milliseconds.")
    domain: Literal["general", "mixed", "specialised"] = Field(
        "general", description="How far the domain is from general text: decides general model vs domain fine-tune."
    )
    requests_per_day: float | None = Field(
        None, ge=0, description="Requests on a typical day; with peak_qps it decides high vs low frequency.",
    )
    prompt_tokens: int | None = Field(
        None, ge=1, description="Mean prompt tokens per request (default: half the context length, at most 512).",
    )
    output_tokens: int | None = Field(
        None, ge=1, description="Mean generated tokens per request (default: 128, within the context length).",
    )
    escalation_share: float = Field(
        0.3, ge=0, le=1,
        description="hybrid: share of requests the domain model in front passes on to the general model behind it.",
    )
    train_budget_hours: float = Field(
        24.0, gt=0, description="Longest acceptable fine-tuning run on the declared hardware; larger models are "
                                "flagged when their training on the data at hand would take longer.",
    )
    hardware: HardwareSection = Field(default_factory=HardwareSection, description="Devices the model runs on.")
    data: PlanDataSection = Field(default_factory=PlanDataSection, description="Data at hand for training.")

    @model_validator(mode="after")
    def _retrieval_has_no_decode(self) -> PlanSection:
        if self.task == "image_text_retrieval" and self.tpot_ms is not None:
            raise ValueError("image_text_retrieval generates no tokens: drop tpot_ms (ttft_ms bounds one encoding)")
        return self
