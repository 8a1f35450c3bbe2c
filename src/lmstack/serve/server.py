"""Run the API under uvicorn, and build a registry from `NAME=PATH` specs or a registry YAML.

    $ lmstack serve --model tiny=runs/demo/model --port 8000
    $ curl -s 127.0.0.1:8000/v1/models

SIGTERM (or Ctrl-C) drains: new requests answer 503 at once, requests in flight get up to
`drain_timeout_s` to finish, then each engine's `shutdown` aborts what is left and the process exits.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import uvicorn
import yaml
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lmstack.errors import UserError
from lmstack.serve.app import create_app
from lmstack.serve.db.migrate import open_database, resolve_db_url
from lmstack.serve.embeddings import MINILM_NAME, SentenceEmbedder
from lmstack.serve.limits import Limits
from lmstack.serve.registry import ModelRegistry

if TYPE_CHECKING:
    from lmstack.serve.config import ServeSection

log = logging.getLogger(__name__)

# Model names travel in URLs, logs and metric labels, and must never be read as paths.
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


class ModelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=MODEL_NAME.pattern, description="What requests put in `model`.")
    path: str = Field(description="Model folder (safetensors + tokenizer).")
    kind: Literal["causal", "embedding"] = Field("causal", description="causal: chat/completions; embedding: "
                                                                         "/v1/embeddings.")


class RegistryFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    models: list[ModelSpec] = Field(description="Models to serve.")
    bundled_embeddings: bool = Field(True, description=f"Also serve the bundled {MINILM_NAME}.")


def parse_model_specs(specs: list[str]) -> list[ModelSpec]:
    """`NAME=PATH` (or `NAME=embedding:PATH`) strings as model specs.

    >>> parse_model_specs(["tiny=runs/demo/model"])[0].path
    'runs/demo/model'
    """
    out = []
    for spec in specs:
        name, sep, path = spec.partition("=")
        kind = "causal"
        if path.startswith("embedding:"):
            kind, path = "embedding", path.removeprefix("embedding:")
        if not sep or not path or not MODEL_NAME.match(name):
            raise UserError(f"--model {spec!r} is not NAME=PATH",
                            hint="e.g. --model tiny=runs/demo/model; names use letters, digits, . _ : -")
        out.append(ModelSpec(name=name, path=path, kind=kind))
    return out


def read_registry_file(path: Path) -> RegistryFile:
    try:
        return RegistryFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except FileNotFoundError:
        raise UserError(f"{path} does not exist", hint="give a YAML file with a `models:` list") from None
    except (yaml.YAMLError, ValidationError) as e:
        raise UserError(f"{path} is not a valid model registry: {e}",
                        hint="models: [{name: tiny, path: runs/demo/model, kind: causal}]") from None


def build_registry(specs: list[ModelSpec], *, bundled_embeddings: bool = True, backend: str = "lmstack",
                   device: str = "auto", dtype: str = "auto", max_batch_size: int = 16,
                   max_queue: int = 256) -> ModelRegistry:
    """Load every model: causal ones through the engine factory, embedding ones as SentenceEmbedders."""
    from lmstack.serve.engine.factory import build_engine

    registry = ModelRegistry()
    for spec in specs:
        if spec.kind == "embedding":
            registry.add_embedder(spec.name, SentenceEmbedder(spec.path))
            continue
        engine, tokenizer = build_engine(spec.path, backend=backend, device=device, dtype=dtype,
                                         max_batch_size=max_batch_size, max_queue=max_queue)
        registry.add_generator(spec.name, engine, tokenizer)
    if bundled_embeddings and MINILM_NAME not in registry.embedders:
        registry.add_embedder(MINILM_NAME, SentenceEmbedder.bundled_minilm())
    return registry


class DrainingServer(uvicorn.Server):
    """uvicorn, plus: on the first signal, new requests on open connections answer 503 at once."""

    def __init__(self, config: uvicorn.Config, app: FastAPI):
        super().__init__(config)
        self.services = app.state.services

    def handle_exit(self, sig: int, frame) -> None:
        self.services.draining = True
        super().handle_exit(sig, frame)


def run_server(app: FastAPI, *, host: str = "127.0.0.1", port: int = 8000, drain_timeout_s: float = 30.0) -> None:
    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("binding %s: the server is reachable from other machines; create an API key "
                    "(`lmstack keys create`) so it is not open", host)
    config = uvicorn.Config(app, host=host, port=port, timeout_graceful_shutdown=drain_timeout_s,
                            log_level="info", access_log=False)
    DrainingServer(config, app).run()


def serve(specs: list[ModelSpec], section: ServeSection, *, bundled_embeddings: bool = True,
          backend: str = "lmstack", device: str = "auto", dtype: str = "auto") -> None:
    """Load the models, migrate the database, serve until SIGTERM."""
    if not specs and not bundled_embeddings:
        raise UserError("no models to serve", hint="give --model NAME=PATH or --registry models.yaml")
    database = open_database(resolve_db_url(section.db_url))
    registry = build_registry(specs, bundled_embeddings=bundled_embeddings, backend=backend, device=device,
                              dtype=dtype, max_batch_size=section.max_batch_size, max_queue=section.max_queue)
    app = create_app(registry, limits=Limits.from_section(section), database=database,
                     drain_timeout_s=section.drain_timeout_s)
    run_server(app, host=section.host, port=section.port, drain_timeout_s=section.drain_timeout_s)
