"""Typed project configuration: the schema (`schema.py`) and loading it from YAML (`loader.py`)."""

from lmstack.config.loader import config_schema, dump_config, load_config, section_hash
from lmstack.config.schema import ProjectConfig

__all__ = ["ProjectConfig", "config_schema", "dump_config", "load_config", "section_hash"]
