"""What every config section shares: unknown keys are errors, assignments are validated."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Language = Literal["zh", "en"]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)
