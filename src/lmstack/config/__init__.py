"""Typed project configuration: the schema (`schema.py`) and loading it from YAML (`loader.py`).

Names are resolved lazily: each step's section module imports `lmstack.config.base`, and the
schema imports those sections, so an eager import here would make a cycle.
"""

from importlib import import_module

_EXPORTS = {
    "ProjectConfig": "lmstack.config.schema",
    "config_schema": "lmstack.config.loader",
    "dump_config": "lmstack.config.loader",
    "load_config": "lmstack.config.loader",
    "section_hash": "lmstack.config.loader",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'lmstack.config' has no attribute {name!r}")
