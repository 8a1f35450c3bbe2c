"""What lmstack's engines share: a step loop on its own thread, each request streamed back to the
event loop through a queue, aborts and draining under one lock.

An engine keeps a `_live` entry per request (with `request_id`, `loop`, `queue` and `closed`), runs
`_run` on `self._thread`, and wakes it through `self._cond`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from lmstack.hardware.openmp import release_openmp_workers
from lmstack.serve.engine.base import (
    EngineShuttingDown,
    SamplingParams,
    TokenConstraint,
    TokenEvent,
    check_request,
)
from lmstack.serve.engine.sampling import make_generator


@dataclass(eq=False, kw_only=True)
class LiveRequest:
    """A request between `generate` and its last event, as the event loop sees it; engines add what
    their loop needs (and a `request_id` property)."""

    loop: asyncio.AbstractEventLoop
    generator: torch.Generator | None
    constraint: TokenConstraint | None
    queue: asyncio.Queue[TokenEvent] = field(default_factory=asyncio.Queue)
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    @staticmethod
    def fields_for(params: SamplingParams) -> dict[str, Any]:
        """The shared fields of a new request: the running event loop, its seeded generator (when it
        samples) and its own constraint state (JSON mode)."""
        return {"loop": asyncio.get_running_loop(),
                "generator": make_generator(params.seed) if params.temperature > 0 else None,
                "constraint": params.constraint() if params.constraint is not None else None}


class ThreadedEngine:
    vocab_size: int

    def _init_loop(self) -> None:
        self._cond = threading.Condition()
        self._live: dict[str, Any] = {}
        self._aborts: set[str] = set()
        self._draining = False
        self._stopping = False
        self._thread: threading.Thread | None = None

    def _start_loop(self, target: Callable[..., None], name: str, *args: Any) -> None:
        """Run `target(*args)` as the loop thread. The calling thread (usually the one that loaded the
        model) ends its OpenMP team first: a second live team would slow every step down."""
        release_openmp_workers()
        self._thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._thread.start()

    def _wait_for_work(self, has_work: Callable[[], bool]) -> None:
        """With `_cond` held, from the loop thread: return once `has_work()`. A loop with nothing to do
        first hands back its OpenMP workers (`lmstack.hardware.openmp`), so that another thread's
        forwards — another model's loop, an embedding request — run with the process's only team."""
        if has_work():
            return
        self._cond.release()
        try:
            release_openmp_workers()
        finally:
            self._cond.acquire()
        self._cond.wait_for(has_work)

    def _check(self, what: str, ids: Sequence[int], params: SamplingParams) -> None:
        """`check_request`, and the loop must be running."""
        check_request(what, ids, params, self.vocab_size)
        if self._thread is None:
            raise RuntimeError("call `await engine.start()` before generate()")

    def _admit(self, live, enqueue: Callable[[], None]) -> AsyncIterator[TokenEvent]:
        """Queue `live` (`enqueue` adds it to the engine's own queue, raising QueueFull when full) and
        return its stream; refused while draining or when its request id is in use."""
        with self._cond:
            if self._draining:
                raise EngineShuttingDown("the engine is shutting down and takes no new requests")
            if live.request_id in self._live:
                raise ValueError(f"request id {live.request_id!r} is already in use")
            enqueue()
            self._live[live.request_id] = live
            self._cond.notify()
        return self._stream(live)

    async def _stream(self, live) -> AsyncIterator[TokenEvent]:
        try:
            while True:
                event = await live.queue.get()
                yield event
                if event.finish_reason is not None:
                    return
        finally:
            if not live.closed.is_set():  # the consumer went away: free its place at the next step
                self._request_abort(live.request_id)

    async def abort(self, request_id: str) -> None:
        """Stop `request_id`; returns once its stream has its 'abort' event (at the next step)."""
        with self._cond:
            live = self._live.get(request_id)
        if live is None:
            return
        self._request_abort(request_id)
        await live.closed.wait()

    def _request_abort(self, request_id: str) -> None:
        with self._cond:
            self._aborts.add(request_id)
            self._cond.notify()

    async def _drain_and_stop(self, drain_timeout_s: float) -> bool:
        """Refuse new requests, let running ones finish for up to drain_timeout_s, abort the rest and
        stop the loop; whether a loop thread was running."""
        with self._cond:
            self._draining = True
        deadline = time.monotonic() + drain_timeout_s
        while self._live and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        with self._cond:
            self._aborts.update(self._live)
            self._stopping = True
            self._cond.notify()
        if self._thread is None:
            return False
        await asyncio.to_thread(self._thread.join)
        return True

    @staticmethod
    def _deliver(live, event: TokenEvent) -> None:
        """From the loop thread: hand `event` to the request's stream on its event loop."""
        ThreadedEngine._deliver_all([(live, event)])

    @staticmethod
    def _deliver_all(deliveries: Sequence[tuple[Any, TokenEvent]]) -> None:
        """From the loop thread: hand a step's events to their streams, in order, with one wake-up per
        event loop (each `call_soon_threadsafe` writes to the loop's self-pipe and contends for the GIL)."""
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Any, TokenEvent]]] = {}
        for live, event in deliveries:
            by_loop.setdefault(live.loop, []).append((live, event))

        def put(pairs: list[tuple[Any, TokenEvent]]) -> None:
            for live, event in pairs:
                live.queue.put_nowait(event)
                if event.finish_reason is not None:
                    live.closed.set()

        for loop, pairs in by_loop.items():
            loop.call_soon_threadsafe(put, pairs)
