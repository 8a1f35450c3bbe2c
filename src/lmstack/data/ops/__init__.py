"""Cleaning operators, one family per module; importing this package fills `OPERATORS`."""

from lmstack.data.ops import dedup, filters, language, normalize, pii, quality, semantic  # noqa: F401  (registration)
from lmstack.data.ops.base import OPERATORS, Operator, OpSpec, Outcome, build, describe, parse_params

__all__ = ["OPERATORS", "OpSpec", "Operator", "Outcome", "build", "describe", "parse_params"]
