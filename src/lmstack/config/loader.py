"""Load a project YAML: parse, apply dotted overrides, validate, and explain every mistake.

Errors name the file and line, the field, what was given and what is allowed, and suggest the
closest key for a typo:

    project.yaml:12: train.lrr: unknown key (given: 0.001); did you mean 'lr'?
"""

from __future__ import annotations

import difflib
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from lmstack.config.schema import ProjectConfig
from lmstack.errors import UserError


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> ProjectConfig:
    """Read, override and validate a project file.

    >>> cfg = load_config("examples/customer-service/project.yaml", ["train.lr=1e-3"])  # doctest: +SKIP
    """
    data, lines = read_yaml_file(path, "config", hint="check the path; `lmstack config show --help` explains the format")
    path = Path(path)
    from_override: dict[tuple, str] = {}
    for item in overrides:
        keys, value = parse_override(item)
        set_dotted(data, keys, value, item)
        from_override[tuple(keys)] = item
    try:
        return ProjectConfig.model_validate(data, context={"base_dir": path.parent.resolve()})
    except ValidationError as e:
        raise UserError(format_validation_error(e, str(path), lines, from_override),
                        hint="`lmstack config schema` lists every field with its type and description") from None


def read_yaml_file(path: str | Path, what: str, *, hint: str, example: str = "`project: {name: my-project}`"
                   ) -> tuple[dict, dict[tuple, int]]:
    """The mapping in the YAML file at `path` and the line of every key path in it; a UserError that
    names the file (and the line, for malformed YAML) otherwise. `what` names the kind of file."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such {what} file", hint=hint)
    return parse_yaml(path.read_text(encoding="utf-8"), str(path), example=example)


def parse_yaml(text: str, filename: str, *, example: str = "`project: {name: my-project}`"
               ) -> tuple[dict, dict[tuple, int]]:
    """The mapping in `text` and the 1-based line of every key path in it; `example` is the start of a
    valid file, shown in the hint when the text is empty or not a mapping."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{filename}:{mark.line + 1}:{mark.column + 1}" if mark else filename
        problem = getattr(e, "problem", None) or str(e)
        raise UserError(f"{where}: malformed YAML: {problem}",
                        hint="check indentation (spaces, not tabs) and that every `key: value` has a colon and a space") from None
    if data is None:
        raise UserError(f"{filename}: the file is empty", hint=f"start with {example}")
    if not isinstance(data, dict):
        raise UserError(f"{filename}: the top level must be a mapping of keys, got {type(data).__name__}",
                        hint=f"start with {example}")
    lines: dict[tuple, int] = {}
    _collect_lines(node, (), lines)
    return data, lines


def _collect_lines(node: yaml.Node, prefix: tuple, out: dict[tuple, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = prefix + (key.value,)
            out[path] = key.start_mark.line + 1
            _collect_lines(value, path, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, value in enumerate(node.value):
            out[prefix + (i,)] = value.start_mark.line + 1
            _collect_lines(value, prefix + (i,), out)


def parse_override(item: str) -> tuple[list[str], Any]:
    """'train.lr=3e-4' → (['train', 'lr'], 0.0003). Values are YAML: 1e-3, true, [a, b], null."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise UserError(f"override {item!r} is not of the form section.key=value",
                        hint="for example: train.lr=3e-4 or model.preset=llama-20m")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.split("."), _yaml_number(raw.strip(), value)


def _yaml_number(raw: str, value: Any) -> Any:
    # YAML 1.1 reads '3e-4' (no dot) as a string; people mean the number.
    if isinstance(value, str):
        try:
            return float(raw) if any(c in raw.lower() for c in "e.") else value
        except ValueError:
            return value
    return value


def set_dotted(data: dict, keys: list[str], value: Any, item: str) -> None:
    node = data
    for i, key in enumerate(keys[:-1]):
        child = node.setdefault(key, {})
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            raise UserError(f"override {item!r}: {'.'.join(keys[:i + 1])} is a value, not a section")
        node = child
    node[keys[-1]] = value


def validate_yaml(model: type[BaseModel], data: dict, filename: str, lines: dict[tuple, int], *, hint: str,
                  context: dict | None = None) -> BaseModel:
    """`model` validated from a file's `data`; every mistake with its line, in one UserError."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as e:
        raise UserError(format_validation_error(e, filename, lines, {}, root=model), hint=hint) from None


def format_validation_error(e: ValidationError, filename: str, lines: dict[tuple, int],
                            from_override: dict[tuple, str], root: type[BaseModel] = ProjectConfig) -> str:
    messages = []
    for err in e.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in _UNION_TAGS))
        where = locate(loc, filename, lines, from_override)
        field = ".".join(str(p) for p in loc) or "(top level)"
        given = _short(err.get("input"))
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(root, loc[:-1])
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.5)
            suggestion = f"did you mean '{close[0]}'?" if close else f"allowed: {', '.join(allowed)}"
            messages.append(f"{where}: {field}: unknown key; {suggestion}")
        elif err["type"] == "missing":
            messages.append(f"{where}: {field}: required field is missing")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            messages.append(f"{where}: {field}: {msg} (given: {given})")
    return "\n".join(messages)


_UNION_TAGS = {"int", "str", "float", "literal['auto']", "function-after[_relative_to_config(), list[Path]]"}


def locate(loc: tuple, filename: str, lines: dict[tuple, int], from_override: dict[tuple, str] | None = None) -> str:
    """`file:line` of the deepest known part of the key path `loc` (or the override that set it)."""
    from_override = from_override or {}
    for n in range(len(loc), 0, -1):
        if loc[:n] in from_override:
            return f"override {from_override[loc[:n]]!r}"
        if loc[:n] in lines:
            return f"{filename}:{lines[loc[:n]]}"
    return filename


def _allowed_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    for part in loc:
        if not isinstance(part, str):
            continue
        field = model.model_fields.get(part)
        sub = _model_of(field.annotation) if field else None
        if sub is None:
            break
        model = sub
    return list(model.model_fields)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def dump_config(cfg: ProjectConfig) -> str:
    """The fully resolved config (defaults filled in) as YAML."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def config_schema() -> dict:
    """JSON Schema of the project file, for editors and validation elsewhere."""
    schema = ProjectConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "lmstack project"
    return schema


def section_hash(obj: Any) -> str:
    """A stable sha256 of a config slice (pydantic model, dict or value)."""
    if isinstance(obj, BaseModel):
        obj = obj.model_dump(mode="json")
    blob = json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
