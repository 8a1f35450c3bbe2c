"""A tiny random Llama with the shared tiny tokenizer, for perplexity and multiple choice."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_lm(tiny_tokenizer):
    from lmstack.models.build import build_model

    tok = tiny_tokenizer
    model = build_model("llama-1m", vocab_size=len(tok), pad_token_id=tok.pad_token_id,
                        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, seed=0)
    return model.eval()


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory, tiny_lm, tiny_tokenizer):
    out = tmp_path_factory.mktemp("tiny-lm") / "model"
    tiny_lm.save_pretrained(out)
    tiny_tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def bench_json(tmp_path_factory, tiny_tokenizer):
    """A real `lmstack bench serve` bench.json: bench_serve against a FakeEngine app under uvicorn."""
    import socket
    import threading
    import time

    import uvicorn

    from lmstack.serve.app import create_app
    from lmstack.serve.bench import bench_serve
    from lmstack.serve.loadgen import LoadShape
    from lmstack.serve.registry import ModelRegistry
    from lmstack.serve.testing import FakeEngine

    engine = FakeEngine("tiny", vocab_size=len(tiny_tokenizer), max_context=128, token_delay_s=0.005)
    registry = ModelRegistry()
    registry.add_generator("tiny", engine, tiny_tokenizer)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(registry), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    out = tmp_path_factory.mktemp("bench")
    try:
        bench_serve(f"http://127.0.0.1:{port}", "tiny", LoadShape(num_prompts=6, input_len=12, output_len=5,
                                                                   max_concurrency=2, warmup=1, vocab_size=400),
                    out_dir=out)
    finally:
        server.should_exit = True
        thread.join(10)
    return out / "bench.json"
