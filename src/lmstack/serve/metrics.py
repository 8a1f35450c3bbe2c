"""Prometheus metrics under vLLM's names (prefix `lmstack:`), so vLLM dashboards carry over.

Each app gets its own `CollectorRegistry`, so tests and multi-app processes never collide. Gauges
(running, waiting, KV-cache usage) are read from each engine's `stats()` at scrape time.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from lmstack.serve.registry import ModelRegistry
from lmstack.serve.textgen import ChoiceDelta

PREFIX = "lmstack:"
# vLLM's buckets: seconds, dense where interactive latencies live
TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
ITL_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5)
E2E_BUCKETS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0)


class _EngineGauges(Collector):
    def __init__(self, models: ModelRegistry):
        self.models = models

    def collect(self) -> Iterator[GaugeMetricFamily]:
        running = GaugeMetricFamily(f"{PREFIX}num_requests_running", "Requests in the running batch.",
                                    labels=["model_name"])
        waiting = GaugeMetricFamily(f"{PREFIX}num_requests_waiting", "Requests waiting to be scheduled.",
                                    labels=["model_name"])
        kv = GaugeMetricFamily(f"{PREFIX}kv_cache_usage_perc", "Share of the KV cache in use (0..1).",
                               labels=["model_name"])
        for name, served in self.models.generators.items():
            stats = served.engine.stats()
            running.add_metric([name], stats.running)
            waiting.add_metric([name], stats.waiting)
            kv.add_metric([name], stats.kv_cache_usage)
        yield from (running, waiting, kv)


class ServeMetrics:
    def __init__(self, models: ModelRegistry):
        self.registry = CollectorRegistry()
        labels = ["model_name"]
        self.ttft = Histogram(f"{PREFIX}time_to_first_token_seconds", "Time to first token.", labels,
                              buckets=TTFT_BUCKETS, registry=self.registry)
        self.itl = Histogram(f"{PREFIX}inter_token_latency_seconds", "Time between two tokens of a request.",
                             labels, buckets=ITL_BUCKETS, registry=self.registry)
        self.e2e = Histogram(f"{PREFIX}e2e_request_latency_seconds", "Request latency, arrival to last token.",
                             labels, buckets=E2E_BUCKETS, registry=self.registry)
        # Observed once per choice, from the engine's first TokenEvent (engines that cannot tell skip it).
        self.queue_time = Histogram(f"{PREFIX}request_queue_time_seconds", "Time waiting before the first step.",
                                    labels, buckets=E2E_BUCKETS, registry=self.registry)
        self.prompt_tokens = Counter(f"{PREFIX}prompt_tokens", "Prompt tokens processed.", labels,
                                     registry=self.registry)
        self.generation_tokens = Counter(f"{PREFIX}generation_tokens", "Tokens generated.", labels,
                                         registry=self.registry)
        self.request_success = Counter(f"{PREFIX}request_success", "Finished requests by finish reason.",
                                       ["model_name", "finished_reason"], registry=self.registry)
        self.registry.register(_EngineGauges(models))

    async def track(self, model: str, deltas: AsyncIterator[ChoiceDelta], prompt_tokens: int,
                    started: float) -> AsyncIterator[ChoiceDelta]:
        """Pass `deltas` through, timing each choice's tokens; `started` is the request's arrival."""
        self.prompt_tokens.labels(model).inc(prompt_tokens)
        # children looked up once per request, not per token
        queue_time, generated = self.queue_time.labels(model), self.generation_tokens.labels(model)
        itl, ttft, e2e = self.itl.labels(model), self.ttft.labels(model), self.e2e.labels(model)
        last: dict[int, float] = {}
        counted: dict[int, int] = {}
        async for d in deltas:
            now = time.perf_counter()
            if d.queue_time_s is not None:
                queue_time.observe(d.queue_time_s)
            new_tokens = d.completion_tokens - counted.get(d.index, 0)
            if new_tokens > 0:
                counted[d.index] = d.completion_tokens
                generated.inc(new_tokens)
                if d.index in last:
                    itl.observe(now - last[d.index])
                else:
                    ttft.observe(now - started)
                last[d.index] = now
            if d.finish_reason is not None:
                e2e.observe(now - started)
                self.request_success.labels(model, d.finish_reason).inc()
            yield d
