"""Run the API under uvicorn, and build a registry from `NAME=PATH` specs or a registry YAML.

    $ lmstack serve --model tiny=runs/demo/model --port 8000
    $ curl -s 127.0.0.1:8000/v1/models

Model kinds (`ModelSpec.kind`; `--model NAME=KIND:PATH` or `kind:` in the registry YAML):

- auto (the default): read from the folder's config.json — an encoder-decoder config
  (`is_encoder_decoder`) is seq2seq, a CLIP config (model_type "clip") is clip, a causal LM is
  causal, any other encoder (BERT, MiniLM) is embedding.
- causal: a decoder-only LM on /v1/completions and /v1/chat/completions, run by `--backend`.
  An encoder-decoder checkpoint given as causal is served as seq2seq.
- seq2seq: an encoder-decoder model (the seq2seq recipe's Marian models) on the same two routes,
  run by `Seq2SeqEngine`; the prompt, or a chat's last user message, is its source.
- embedding: /v1/embeddings; mean-pooled sentence embeddings (`SentenceEmbedder`), or a CLIP
  model's text (and data-URL image) embeddings when the config is CLIP's.
- clip: a CLIP dual encoder (the contrastive recipe) on /v1/embeddings (`ClipEmbedder`).

SIGTERM (or Ctrl-C) drains: new requests answer 503 at once, requests in flight get up to
`drain_timeout_s` to finish, then each engine's `shutdown` aborts what is left and the process exits.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

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

ModelKind = Literal["auto", "causal", "seq2seq", "embedding", "clip"]
KINDS: tuple[str, ...] = get_args(ModelKind)


class ModelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=MODEL_NAME.pattern, description="What requests put in `model`.")
    path: str = Field(description="Model folder (safetensors + tokenizer).")
    kind: ModelKind = Field("auto", description="auto: from the folder's config.json; causal or seq2seq: "
                                                "chat/completions; embedding or clip: /v1/embeddings.")


class RegistryFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    models: list[ModelSpec] = Field(description="Models to serve.")
    bundled_embeddings: bool = Field(True, description=f"Also serve the bundled {MINILM_NAME}.")


def parse_model_specs(specs: list[str]) -> list[ModelSpec]:
    """`NAME=PATH` (kind auto) or `NAME=KIND:PATH` strings as model specs.

    >>> parse_model_specs(["tiny=runs/demo/model"])[0].kind
    'auto'
    >>> parse_model_specs(["mt=seq2seq:runs/mt/model"])[0]
    ModelSpec(name='mt', path='runs/mt/model', kind='seq2seq')
    """
    out = []
    for spec in specs:
        name, sep, path = spec.partition("=")
        kind, colon, rest = path.partition(":")
        if colon and kind in KINDS:
            path = rest
        else:
            kind = "auto"
        if not sep or not path or not MODEL_NAME.match(name):
            raise UserError(f"--model {spec!r} is not NAME=PATH or NAME=KIND:PATH",
                            hint=f"e.g. --model tiny=runs/demo/model or --model mt=seq2seq:runs/mt/model (kinds: "
                                 f"{', '.join(KINDS)}); names use letters, digits, . _ : -")
        out.append(ModelSpec(name=name, path=path, kind=kind))
    return out


def read_registry_file(path: Path) -> RegistryFile:
    try:
        return RegistryFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except FileNotFoundError:
        raise UserError(f"{path} does not exist", hint="give a YAML file with a `models:` list") from None
    except (yaml.YAMLError, ValidationError) as e:
        raise UserError(f"{path} is not a valid model registry: {e}",
                        hint="models: [{name: tiny, path: runs/demo/model, kind: auto}] "
                             f"(kinds: {', '.join(KINDS)})") from None


def _config_json(path: str) -> dict:
    """The folder's raw config.json ({} when there is none: a bundled or hub embedder)."""
    try:
        return json.loads((Path(path) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def detect_kind(path: str) -> str:
    """'causal', 'seq2seq', 'clip' or 'embedding', from the model folder's config."""
    from lmstack.models.loading import load_config, model_kind, resolve_model_folder

    config = load_config(resolve_model_folder(path))
    kind = model_kind(config)
    if getattr(config, "is_encoder_decoder", False) or kind == "seq2seq":
        return "seq2seq"
    if config.model_type == "clip":
        return "clip"
    if kind in ("causal_lm", "moe"):
        return "causal"
    if kind == "dual_encoder":
        raise UserError(f"{path!r} is a {config.model_type!r} dual encoder; lmstack serves CLIP ones only",
                        hint="serve a CLIP checkpoint (the contrastive recipe's clip-* presets)")
    return "embedding"


def resolve_kind(spec: ModelSpec) -> str:
    """The kind `spec` is served as: its own, except what the checkpoint's config settles (see the module doc)."""
    if spec.kind == "auto":
        return detect_kind(spec.path)
    if spec.kind == "causal" and _config_json(spec.path).get("is_encoder_decoder"):
        return "seq2seq"
    if spec.kind == "embedding" and _config_json(spec.path).get("model_type") == "clip":
        return "clip"
    return spec.kind


def build_registry(specs: list[ModelSpec], *, bundled_embeddings: bool = True, backend: str = "lmstack",
                   device: str = "auto", dtype: str = "auto", max_batch_size: int = 16,
                   max_queue: int = 256, prefill_chunk_tokens: int | None = None) -> ModelRegistry:
    """Load every model by its kind (`resolve_kind`): causal ones through the engine factory, seq2seq
    ones as `Seq2SeqEngine`s, CLIP ones as `ClipEmbedder`s, other embedding ones as `SentenceEmbedder`s."""
    from lmstack.serve.clip import ClipEmbedder
    from lmstack.serve.engine.factory import build_engine
    from lmstack.serve.engine.seq2seq_engine import load_seq2seq_engine

    registry = ModelRegistry()
    for spec in specs:
        kind = resolve_kind(spec)
        if kind == "embedding":
            registry.add_embedder(spec.name, SentenceEmbedder(spec.path))
        elif kind == "clip":
            registry.add_embedder(spec.name, ClipEmbedder(spec.path, device=device))
        elif kind == "seq2seq":
            engine, tokenizer = load_seq2seq_engine(spec.path, device=device, dtype=dtype,
                                                    max_batch_size=max_batch_size, max_queue=max_queue)
            registry.add_generator(spec.name, engine, tokenizer, kind="seq2seq")
        else:
            engine, tokenizer = build_engine(spec.path, backend=backend, device=device, dtype=dtype,
                                             max_batch_size=max_batch_size, max_queue=max_queue,
                                             prefill_chunk_tokens=prefill_chunk_tokens)
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


class StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a record comes (a caller may have swapped it since)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def _log_start_up() -> None:
    """lmstack's own start-up lines (which linear products an engine picked, say) on stderr, beside uvicorn's."""
    logger = logging.getLogger("lmstack")
    if not logger.handlers:
        logger.addHandler(StderrHandler())
        logger.setLevel(logging.INFO)


def serve(specs: list[ModelSpec], section: ServeSection, *, bundled_embeddings: bool = True,
          backend: str = "lmstack", device: str = "auto", dtype: str = "auto") -> None:
    """Load the models, migrate the database, serve until SIGTERM."""
    _log_start_up()
    if not specs and not bundled_embeddings:
        raise UserError("no models to serve", hint="give --model NAME=PATH or --registry models.yaml")
    database = open_database(resolve_db_url(section.db_url))
    registry = build_registry(specs, bundled_embeddings=bundled_embeddings, backend=backend, device=device,
                              dtype=dtype, max_batch_size=section.max_batch_size, max_queue=section.max_queue,
                              prefill_chunk_tokens=section.prefill_chunk_tokens)
    app = create_app(registry, limits=Limits.from_section(section), database=database,
                     drain_timeout_s=section.drain_timeout_s)
    run_server(app, host=section.host, port=section.port, drain_timeout_s=section.drain_timeout_s)
