"""A cleaning recipe: which files, which operators in which order, and the removal budget.

```yaml
inputs: [qa/train.jsonl, corpus/domain.jsonl]   # relative to base_dir (default: the recipe's folder)
steps:
  - op: nfkc
  - op: length
    min: 2
    max: 2000
max_removed_ratio: 0.15
on_budget: relax
num_proc: 2                                     # worker processes; the output is the same for any value
relax:
  - {step: length, param: max, values: [4000, 8000]}
```

>>> recipe = load_recipe("examples/customer-service/clean.yaml")   # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lmstack.data.augment.config import AugmentConfig
from lmstack.data.io import file_format
from lmstack.data.ops import parse_params
from lmstack.data.ops.base import Params
from lmstack.errors import UserError


class Step(BaseModel):
    """One operator in the recipe: `{op: name, name: optional step name, ...parameters}`."""

    model_config = ConfigDict(extra="allow")
    op: str = Field(description="Operator name (`lmstack data ops` lists them).")
    name: str | None = Field(None, description="Step name in reports and exclusion files (default: the operator name).")
    files: list[str] | None = Field(None, description="Apply the step only to rows of these inputs (as `inputs` writes them); default: all.")

    @property
    def step_name(self) -> str:
        return self.name or self.op

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class Relaxation(BaseModel):
    """Values to try, in order, for one step's parameter when the run would remove too much."""

    model_config = ConfigDict(extra="forbid")
    step: str = Field(description="Step name whose parameter is relaxed.")
    param: str = Field(description="The parameter to change.")
    values: list[Any] = Field(min_length=1, description="Looser values, tried one after another.")


class Recipe(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inputs: list[Path] = Field(min_length=1, description="Data files (.jsonl .json .csv .parquet .txt, or a saved HF dataset folder).")
    format: Literal["auto", "text", "chat"] = Field(
        "auto", description="text: clean `text_field`; chat: messages/alpaca/sharegpt/question+answer rows become "
                            "`messages` and every message is cleaned; auto: chat when a row has a chat shape, else text.")
    text_field: str = Field("text", min_length=1, description="Field holding the text of plain-text rows.")
    steps: list[Step] = Field(min_length=1, description="Operators, applied in this order; a row stops at the first that removes it.")
    max_removed_ratio: float = Field(0.15, ge=0, le=1, description="Largest share of read rows the steps may remove (the removal budget).")
    on_budget: Literal["stop", "relax"] = Field("stop", description="Over budget: stop with a table of removals, or relax thresholds in `relax` order.")
    relax: list[Relaxation] = Field([], description="The order in which thresholds are loosened when on_budget is relax.")
    output_dir: Path | None = Field(None, description="Where cleaned files, exclusions and the report go (the CLI's --out overrides).")
    base_dir: Path | None = Field(None, description="Folder the inputs and noise_sidecar are relative to (default: the recipe's folder).")
    augment: AugmentConfig | None = Field(None, description="EDA augmentation of the kept rows into augmented.jsonl (none by default).")
    num_proc: int = Field(1, ge=1, le=256, description="Processes for the per-row work (parsing, normalisers, filters, PII, dedup hashes); "
                                                       "dedup decisions stay in input order, so the output is the same for any value.")
    executor: Literal["local", "ray"] = Field("local", description="local: worker processes on this machine; ray: Ray Data map_batches on "
                                                                   "num_proc actors (a local Ray instance, or RAY_ADDRESS's cluster).")
    noise_sidecar: Path | None = Field(None, description="A noise.jsonl listing injected noise: the report then scores removal against it.")
    noise_targets: dict[str, list[str]] = Field(
        {}, description="Noise type → the steps meant to catch it (`step` for removal, `step:tag` for a change such as pii:phone); "
                        "precision per noise type counts what these steps did.")

    @model_validator(mode="after")
    def _check(self) -> Recipe:
        names = [s.step_name for s in self.steps]
        dup = next((n for n in names if names.count(n) > 1), None)
        if dup:
            raise ValueError(f"two steps are named {dup!r}; give one a `name:`")
        for r in self.relax:
            if r.step not in names:
                raise ValueError(f"relax names step {r.step!r}, which the recipe does not have (steps: {', '.join(names)})")
        inputs = {p.as_posix() for p in self.inputs}
        for s in self.steps:
            unknown = sorted(set(s.files or ()) - inputs)
            if unknown:
                raise ValueError(f"step {s.step_name!r} names files {unknown} that are not inputs ({', '.join(sorted(inputs))})")
        stems = [p.stem for p in self.inputs]
        clash = next((s for s in stems if stems.count(s) > 1), None)
        if clash:
            raise ValueError(f"two inputs are named {clash!r}: their cleaned files would collide; rename one")
        return self

    def step_params(self) -> dict[str, Params]:
        """Every step's validated parameters, by step name; unknown operators and parameters are UserErrors."""
        return {s.step_name: parse_params(s.op, s.params, where=f"step {s.step_name!r}") for s in self.steps}

    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() or self.base_dir is None else self.base_dir / path


def load_recipe(path: str | Path, base_dir: str | Path | None = None) -> Recipe:
    """Read and validate a recipe YAML; paths are relative to `base_dir`, else the recipe's `base_dir:`, else its folder."""
    from lmstack.config.loader import read_yaml_file

    path = Path(path)
    raw, lines = read_yaml_file(path, "recipe", example="`inputs: [data.jsonl]` and `steps: [{op: nfkc}, …]`",
                            hint="give the path of a recipe YAML (see examples/customer-service/clean.yaml)")
    return recipe_from_dict(raw, path.parent, base_dir, where=str(path), lines=lines)


def recipe_from_dict(raw: dict[str, Any], recipe_dir: Path, base_dir: str | Path | None = None,
                     where: str = "recipe", lines: dict[tuple, int] | None = None) -> Recipe:
    """A validated recipe from its mapping; `lines` (key path → line, from the YAML) puts the line of
    each mistake in the errors, every schema mistake at once."""
    from lmstack.config.loader import format_validation_error, locate

    lines = lines or {}
    try:
        recipe = Recipe.model_validate(raw)
    except ValidationError as e:
        raise UserError(format_validation_error(e, where, lines, {}, root=Recipe),
                        hint="see examples/customer-service/clean.yaml for a full recipe") from None
    for i, step in enumerate(recipe.steps):  # the operators' own parameters, with the step's line
        parse_params(step.op, step.params, where=f"{locate(('steps', i), where, lines)}: step {step.step_name!r}")
    if base_dir is not None:
        recipe.base_dir = Path(base_dir)
    elif recipe.base_dir is None or not recipe.base_dir.is_absolute():
        recipe.base_dir = recipe_dir / (recipe.base_dir or ".")
    if recipe.output_dir is not None and not recipe.output_dir.is_absolute():
        recipe.output_dir = recipe_dir / recipe.output_dir
    params = recipe.step_params()
    for j, r in enumerate(recipe.relax):
        for value in r.values:
            step = next(s for s in recipe.steps if s.step_name == r.step)
            parse_params(step.op, {**params[r.step].model_dump(), r.param: value},
                         where=f"{locate(('relax', j), where, lines)}: relax of step {r.step!r}")
    for p in recipe.inputs:
        file_format(recipe.resolve(p))
    return recipe
