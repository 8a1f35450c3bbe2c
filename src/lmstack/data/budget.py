"""The removal budget: how much of the data a recipe may remove, and what happens past it.

Thresholds are set first and the total removed share is gated after the whole pass, so one
over-eager rule is seen in the table next to the others instead of silently eating the corpus.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lmstack.data.ops import parse_params
from lmstack.data.ops.base import Params
from lmstack.data.recipe import Recipe
from lmstack.data.report import RunStats, format_table
from lmstack.errors import UserError


class OverBudget(Exception):
    """A pass removed more than the budget allows (internal: becomes a UserError or a relaxation)."""

    def __init__(self, stats: RunStats):
        super().__init__(f"removed {stats.removed_share:.2%}")
        self.stats = stats


@dataclass(frozen=True)
class Relax:
    step: str
    param: str
    value: Any

    def apply(self, params: dict[str, Params], recipe: Recipe) -> dict[str, Params]:
        op = next(s.op for s in recipe.steps if s.step_name == self.step)
        new = parse_params(op, {**params[self.step].model_dump(), self.param: self.value}, where=f"relax of step {self.step!r}")
        return {**params, self.step: new}


def relaxations(recipe: Recipe) -> Iterator[Relax]:
    """Each value of each `relax` entry, in the recipe's order; they accumulate."""
    for r in recipe.relax:
        for value in r.values:
            yield Relax(r.step, r.param, value)


def over_budget_error(stats: RunStats, recipe: Recipe, applied: list[dict[str, Any]]) -> UserError:
    relaxed = "".join(f"\n  relaxed {a['step']}.{a['param']} = {a['value']!r}" for a in applied)
    hint = ("loosen the thresholds of the steps that remove most, raise max_removed_ratio, or set "
            "`on_budget: relax` with a `relax:` order" if recipe.on_budget == "stop" else
            "every relaxation was tried; add looser values to `relax:` or raise max_removed_ratio")
    return UserError(f"the recipe would remove {stats.removed} of {stats.read} rows ({stats.removed_share:.2%}), "
                     f"over the budget max_removed_ratio={recipe.max_removed_ratio}; nothing was written{relaxed}\n"
                     f"{format_table(stats)}", hint=hint)
