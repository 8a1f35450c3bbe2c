"""Run the per-row stage of a cleaning run in local worker processes, results in input order.

Batches go out to `num_proc` workers (spawned processes, each building the recipe's operators
once) and come back in the order they went out; at most `2 × num_proc` batches are in flight, so
memory stays bounded whatever the corpus size. With `num_proc=1` the stage runs in the calling
process: the same code, without the pickling. As with any spawned pool, a script that calls this
must do so under `if __name__ == "__main__":`, since each worker imports the script's module.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from lmstack.data.ops.base import Params
from lmstack.data.stage import Failed, Result, Stage, Unit, run_in_worker
from lmstack.errors import UserError

T = TypeVar("T")

_stage: Stage | None = None  # the worker process's stage


def _exit_with_parent() -> None:
    """End this worker when the cleaning process dies (even by SIGKILL), instead of waiting forever."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        def watch() -> None:
            multiprocessing.connection.wait([parent.sentinel])
            os._exit(1)
        threading.Thread(target=watch, daemon=True).start()


def _init(recipe: Any, params: dict[str, Params]) -> None:
    global _stage
    _exit_with_parent()
    _stage = Stage.build(recipe, params)


def _work(units: list[Unit]) -> list[Result] | Failed:
    assert _stage is not None
    return run_in_worker(_stage, units)


def _got(results: list[Result] | Failed) -> list[Result]:
    if isinstance(results, Failed):
        results.raise_()
    return results


def map_stage(stage: Stage, batches: Iterable[tuple[T, list[Unit]]], num_proc: int,
              params: dict[str, Params]) -> Iterator[tuple[T, list[Result]]]:
    """(tag, the stage's results) for each (tag, units) batch, in order; `stage` runs inline when
    num_proc is 1, otherwise workers build their own from the recipe and `params`."""
    if num_proc <= 1:
        for tag, units in batches:
            yield tag, stage(units)
        return
    # spawn, not fork: the cleaning process may hold threads (progress bar, torch) that fork copies badly
    with ProcessPoolExecutor(num_proc, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_init, initargs=(stage.recipe, params)) as pool:
        window: deque[tuple[T, Future]] = deque()
        try:
            for tag, units in batches:
                window.append((tag, pool.submit(_work, units)))
                if len(window) >= 2 * num_proc:
                    done_tag, future = window.popleft()
                    yield done_tag, _got(future.result())
            while window:
                done_tag, future = window.popleft()
                yield done_tag, _got(future.result())
        except BrokenProcessPool:
            raise UserError("a cleaning worker process died (killed, out of memory, or started from a script "
                            "that runs the cleaning again when imported)",
                            hint="call clean() under `if __name__ == \"__main__\":`, free memory, or use fewer --num-proc") from None
        finally:
            for _, future in window:
                future.cancel()
