"""`lmstack serve`, `lmstack keys create|list|revoke` and `lmstack usage`."""

from __future__ import annotations

from pathlib import Path

import typer

keys_app = typer.Typer(help="API keys: once any key exists, every route but /health needs one.",
                       no_args_is_help=True)

DB_URL_HELP = "SQLAlchemy URL (default: LMSTACK_DB_URL, else ./lmstack-serve.db)."


def serve(
    model: list[str] = typer.Option([], "--model", "-m", help="NAME=PATH of a model folder (repeatable); the kind "
                                                              "is read from its config.json, or NAME=KIND:PATH with "
                                                              "KIND causal | seq2seq | embedding | clip."),
    registry: Path | None = typer.Option(None, "--registry", help="YAML: models: [{name, path, kind}], kind auto "
                                                                  "(default) | causal | seq2seq | embedding | clip."),
    host: str = typer.Option("127.0.0.1", "--host", help="Bind address; 0.0.0.0 exposes the server."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port."),
    db_url: str | None = typer.Option(None, "--db-url", help=DB_URL_HELP),
    backend: str = typer.Option("lmstack", "--backend", help="Engine: lmstack | transformers | vllm (vLLM in-process, where it imports)."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda | mps."),
    dtype: str = typer.Option("auto", "--dtype", help="auto | float32 | bfloat16 | float16."),
    max_batch_size: int = typer.Option(16, "--max-batch-size", min=1, help="Sequences decoded together."),
    prefill_chunk_tokens: int | None = typer.Option(
        None, "--prefill-chunk-tokens", min=1, help="Prompt tokens per engine step beside the decoding rows (lmstack "
                                                    "engine; default 256): fewer keep decoding smooth under long "
                                                    "prompts, more prefill sooner."),
    max_queue: int = typer.Option(256, "--max-queue", min=1, help="Waiting requests beyond this answer 429."),
    drain_timeout: float = typer.Option(30.0, "--drain-timeout", min=0, help="Seconds in-flight requests get "
                                                                              "after SIGTERM."),
    embeddings: bool = typer.Option(True, "--embeddings/--no-embeddings",
                                    help="Also serve the bundled all-MiniLM-L6-v2 on /v1/embeddings."),
) -> None:
    """Serve models over an OpenAI-compatible API (chat, completions, embeddings) with keys and metrics.

    Causal LMs and seq2seq (encoder-decoder) models answer chat and completions; sentence encoders
    and CLIP models answer embeddings. The --backend engine runs causal LMs; seq2seq models always
    run on lmstack's seq2seq engine.
    """
    from lmstack.serve.config import ServeSection
    from lmstack.serve.server import parse_model_specs, read_registry_file
    from lmstack.serve.server import serve as run

    specs = parse_model_specs(model)
    if registry is not None:
        reg = read_registry_file(registry)
        specs += reg.models
        embeddings = embeddings and reg.bundled_embeddings
    section = ServeSection(host=host, port=port, db_url=db_url, max_batch_size=max_batch_size, max_queue=max_queue,
                           prefill_chunk_tokens=prefill_chunk_tokens, drain_timeout_s=drain_timeout)
    run(specs, section, bundled_embeddings=embeddings, backend=backend, device=device, dtype=dtype)


def _store(db_url: str | None):
    from lmstack.serve.db.migrate import open_database, resolve_db_url
    from lmstack.serve.keys import KeyStore

    return KeyStore(open_database(resolve_db_url(db_url)))


@keys_app.command("create")
def keys_create(
    name: str = typer.Argument(..., help="Who the key is for (a team, an app)."),
    tokens_per_day: int | None = typer.Option(None, "--tokens-per-day", min=1, help="Daily token quota (UTC)."),
    requests_per_minute: int | None = typer.Option(None, "--requests-per-minute", min=1, help="Rate limit."),
    db_url: str | None = typer.Option(None, "--db-url", help=DB_URL_HELP),
) -> None:
    """Create a key and print it once; only a salted hash is stored."""
    created = _store(db_url).create(name, tokens_per_day=tokens_per_day, requests_per_minute=requests_per_minute)
    typer.echo(created.secret)
    typer.echo(f"key {created.info.id} ({created.info.prefix}…) for {name}: store it now, it is not shown again",
               err=True)


@keys_app.command("list")
def keys_list(db_url: str | None = typer.Option(None, "--db-url", help=DB_URL_HELP)) -> None:
    """List keys by prefix (never the secret)."""
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "name", "prefix", "created (UTC)", "revoked", "tokens/day", "requests/min")
    for k in _store(db_url).list():
        table.add_row(str(k.id), k.name, k.prefix + "…", k.created_at.strftime("%Y-%m-%d %H:%M"),
                      k.revoked_at.strftime("%Y-%m-%d %H:%M") if k.revoked_at else "",
                      str(k.tokens_per_day or "-"), str(k.requests_per_minute or "-"))
    Console().print(table)


@keys_app.command("revoke")
def keys_revoke(
    key: str = typer.Argument(..., help="Id, name or prefix from `lmstack keys list`."),
    db_url: str | None = typer.Option(None, "--db-url", help=DB_URL_HELP),
) -> None:
    """Revoke a key: it answers 401 from the next request on."""
    info = _store(db_url).revoke(key)
    typer.echo(f"revoked key {info.id} ({info.prefix}…) for {info.name}")


def usage(
    by: str = typer.Option("key,model,day", "--by", help="Comma-separated: key, model, day."),
    days: int | None = typer.Option(None, "--days", min=1, help="Only the last N UTC days."),
    db_url: str | None = typer.Option(None, "--db-url", help=DB_URL_HELP),
) -> None:
    """Requests and tokens from the usage ledger, grouped by key, model and/or day."""
    from rich.console import Console
    from rich.table import Table

    from lmstack.serve.db.migrate import open_database, resolve_db_url
    from lmstack.serve.usage import UsageLedger

    groups = tuple(g.strip() for g in by.split(",") if g.strip())
    rows = UsageLedger(open_database(resolve_db_url(db_url))).report(by=groups, days=days)
    columns = [*groups, "requests", "prompt_tokens", "completion_tokens", "errors"]
    table = Table(*columns)
    for row in rows:
        table.add_row(*(str(row[c]) for c in columns))
    Console().print(table)


def bench_serve(
    url: str = typer.Option("http://127.0.0.1:8000", "--url", help="Base URL of any OpenAI-compatible server."),
    model: str = typer.Option(..., "--model", help="Model name the server knows."),
    num_prompts: int = typer.Option(64, "--num-prompts", min=1, help="Measured requests."),
    input_len: int = typer.Option(128, "--input-len", min=1, help="Prompt tokens per request."),
    output_len: int = typer.Option(64, "--output-len", min=1, help="Output tokens per request (ignore_eos)."),
    request_rate: float = typer.Option(float("inf"), "--request-rate", min=0.0, help="Requests/s; inf = all at once."),
    burstiness: float = typer.Option(1.0, "--burstiness", min=0.01, help="Gamma shape: 1 = Poisson, <1 burstier."),
    max_concurrency: int | None = typer.Option(None, "--max-concurrency", min=1, help="Requests in flight at most."),
    warmup: int = typer.Option(2, "--warmup", min=0, help="Requests sent before measuring."),
    vocab_size: int = typer.Option(1000, "--vocab-size", min=11, help="Prompt ids are drawn below this."),
    seed: int = typer.Option(0, "--seed", help="Seed for prompts and arrival times."),
    no_ignore_eos: bool = typer.Option(False, "--no-ignore-eos",
                                       help="Leave out ignore_eos, for servers that reject the field."),
    goodput: str | None = typer.Option(None, "--goodput", help="SLOs in ms, e.g. 'ttft:500 tpot:50'."),
    api_key: str | None = typer.Option(None, "--api-key", envvar="OPENAI_API_KEY", help="Bearer key, if needed."),
    out: Path | None = typer.Option(None, "--out", help="Folder for bench.json and latency_cdf.png."),
) -> None:
    """Benchmark a server with vLLM's protocol: QPS, tokens/s, TTFT/TPOT/ITL/E2EL, goodput."""
    from rich.console import Console
    from rich.table import Table

    from lmstack.serve.bench import bench_serve as run
    from lmstack.serve.bench_metrics import parse_slos, table_rows
    from lmstack.serve.loadgen import LoadShape

    shape = LoadShape(num_prompts=num_prompts, input_len=input_len, output_len=output_len, request_rate=request_rate,
                      burstiness=burstiness, max_concurrency=max_concurrency, warmup=warmup, vocab_size=vocab_size,
                      seed=seed, ignore_eos=not no_ignore_eos)
    summary = run(url, model, shape, api_key=api_key, slos_ms=parse_slos(goodput), out_dir=out)
    table = Table("metric", "value", title=f"{model} at {url}")
    for name, value in table_rows(summary):
        table.add_row(name, value)
    Console().print(table)
