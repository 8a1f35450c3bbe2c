"""Render prompt templates (Jinja, sandboxed) over dataset rows."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from lmstack.errors import UserError

# Sandboxed because tasks files travel between teams; StrictUndefined so that a misspelt field
# stops the eval instead of silently rendering as an empty string.
_ENV = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True)


@lru_cache(maxsize=64)
def _compile(template: str):
    try:
        return _ENV.from_string(template)
    except TemplateSyntaxError as e:
        raise UserError(f"prompt template {template!r} is not valid Jinja: {e.message}") from e


def render(template: str, row: dict[str, Any], row_id: str, task: str) -> str:
    """The template filled with the row's fields; a missing field is a UserError naming row and field.

    >>> render("Q: {{ question }}", {"question": "卡丢了"}, "0", "demo")
    'Q: 卡丢了'
    """
    try:
        return _compile(template).render(**row)
    except UndefinedError as e:
        raise UserError(f"task {task!r}, row {row_id}: the template uses a field the row does not have ({e.message})",
                        hint=f"the row's fields are: {', '.join(row) or 'none'}") from e


def field(row: dict[str, Any], name: str, row_id: str, task: str) -> Any:
    """A row's field, or a UserError naming row and field."""
    if name not in row or row[name] is None:
        raise UserError(f"task {task!r}, row {row_id}: field {name!r} is missing",
                        hint=f"the row's fields are: {', '.join(row) or 'none'}")
    return row[name]
