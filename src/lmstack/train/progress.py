"""Trainer callbacks shared by recipes: a rich progress bar, a JSONL metrics log, a time budget."""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
import torch.distributed as dist
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from transformers import TrainerCallback


class RichProgress(TrainerCallback):
    """Steps, loss, tokens/s and ETA on one line, shown by rank 0 alone."""

    def __init__(self, tokens_per_step: int, console: Console | None = None):
        self.tokens_per_step = tokens_per_step
        self.console = console or Console(stderr=True)
        self.progress: Progress | None = None
        self.task = None
        self.loss = float("nan")
        self.t0 = 0.0
        self.first_step = 0

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        self.progress = Progress(
            TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.3f}"), TextColumn("{task.fields[tps]:,.0f} tok/s"),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=self.console, transient=False,
        )
        self.progress.start()
        self.task = self.progress.add_task("train", total=state.max_steps, completed=state.global_step,
                                           loss=self.loss, tps=0.0)
        self.t0, self.first_step = time.perf_counter(), state.global_step

    def on_step_end(self, args, state, control, **kwargs):
        if self.progress is None:
            return
        elapsed = max(time.perf_counter() - self.t0, 1e-9)
        tps = (state.global_step - self.first_step) * self.tokens_per_step / elapsed
        self.progress.update(self.task, completed=state.global_step, loss=self.loss, tps=tps)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.loss = logs["loss"]

    def on_train_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.stop()


class JsonlLog(TrainerCallback):
    """Append every logged metric as one JSON line (step, seconds since start, values), from the
    process that saves (rank 0; with several nodes, each node's first)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.t0 = time.time()

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or not args.should_save:
            return
        row = {"step": state.global_step, "time_s": round(time.time() - self.t0, 3), **logs}
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")


class TimeBudget(TrainerCallback):
    """Stop training (after saving) once `minutes` have passed on any process."""

    def __init__(self, minutes: float | None):
        self.seconds = None if minutes is None else minutes * 60
        self.t0 = 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        self.t0 = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        if self.seconds is None:
            return
        over = torch.tensor(int(time.perf_counter() - self.t0 > self.seconds), device=args.device)
        if dist.is_available() and dist.is_initialized():
            # ranks that stopped at different steps would wait on each other forever
            dist.all_reduce(over, op=dist.ReduceOp.MAX)
        if over.item():
            control.should_training_stop = True
            control.should_save = True


def last_logged(history: list[dict], key: str, default: float) -> float:
    """The latest logged value of `key` (a run's mean loss hides where training ended)."""
    return next((row[key] for row in reversed(history) if key in row), default)
