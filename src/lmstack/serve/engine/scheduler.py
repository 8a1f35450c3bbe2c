"""Iteration-level scheduling: which sequences run in the next engine step, and where their KV lives.

A request is *waiting* (in a bounded FIFO queue), then *prefilling* (its prompt goes through the
model in chunks), then *running* (one token per step), then gone. The engine calls `schedule()`
before every step and gets a `StepPlan`: every running sequence decodes one token, and prompts
take at most `prefill_chunk_tokens` prompt tokens in the same step, first come first served
(several short prompts can share a step; a long one is spread over several). So a request joins
the batch as soon as a KV slot is free, leaves it the moment it finishes or is aborted (`free`),
and a long prompt never stalls everyone else's decoding for its whole prefill.

KV slots: the cache holds `num_slots` sequences (the maximum running batch). Running sequences
always occupy slots 0..R-1, in order, so a decode step reads one contiguous slice of the cache
without gathering. To keep it so, freeing slot i moves the last running sequence into i, and a
prompt that finishes prefilling moves into slot R; the scheduler returns these `SlotMove`s and
the engine copies the KV rows (a one-off copy per request, never per step). Prefilling prompts
sit above the running ones in admission order, and the budget goes to the oldest prompt first,
so prompts finish in admission order and slot R is always free for the one that finishes.

    >>> from lmstack.serve.engine.base import SamplingParams
    >>> s = Scheduler(num_slots=2, max_queue=4, prefill_chunk_tokens=2)
    >>> s.add(Sequence("a", [1, 2, 3], SamplingParams()))
    >>> [(c.sequence.request_id, c.start, c.end) for c in s.schedule().prefills]
    [('a', 0, 2)]
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from lmstack.serve.engine.base import QueueFull, SamplingParams


@dataclass(eq=False)
class Sequence:
    """One request's state. `num_computed`: tokens whose K/V are in the cache."""

    request_id: str
    prompt_token_ids: list[int]
    params: SamplingParams
    output_token_ids: list[int] = field(default_factory=list)
    num_computed: int = 0
    slot: int | None = None
    arrival: float = field(default_factory=time.perf_counter)
    queue_time_s: float | None = None  # arrival → the step that first scheduled it

    @property
    def prompt_done(self) -> bool:
        return self.num_computed >= len(self.prompt_token_ids)


@dataclass(frozen=True)
class SlotMove:
    """Copy the first `length` KV positions of slot `src` into slot `dst`."""

    src: int
    dst: int
    length: int


@dataclass(frozen=True)
class PrefillChunk:
    """Prompt tokens [start, end) of `sequence` go through the model this step."""

    sequence: Sequence
    start: int
    end: int


@dataclass(frozen=True)
class StepPlan:
    decode: list[Sequence]  # in slot order: decode[i].slot == i
    prefills: list[PrefillChunk]  # oldest first

    @property
    def empty(self) -> bool:
        return not self.decode and not self.prefills


class Scheduler:
    """Waiting queue, running batch and KV-slot table; pure Python, no tensors."""

    def __init__(self, *, num_slots: int, max_queue: int, prefill_chunk_tokens: int):
        if num_slots < 1 or max_queue < 0 or prefill_chunk_tokens < 1:
            raise ValueError("num_slots and prefill_chunk_tokens must be ≥ 1 and max_queue ≥ 0")
        self.num_slots = num_slots
        self.max_queue = max_queue
        self.prefill_chunk_tokens = prefill_chunk_tokens
        self.waiting: deque[Sequence] = deque()
        self.prefilling: list[Sequence] = []  # admission order, in increasing slots
        self.running: list[Sequence] = []

    def add(self, sequence: Sequence) -> None:
        """Queue a new request; QueueFull when `max_queue` requests are already waiting."""
        if len(self.waiting) >= self.max_queue:
            raise QueueFull(f"{len(self.waiting)} requests are waiting (the queue holds {self.max_queue})")
        self.waiting.append(sequence)

    def schedule(self) -> StepPlan:
        """The next step: all running sequences decode; prompts get up to `prefill_chunk_tokens` tokens."""
        budget = self.prefill_chunk_tokens
        chunks = []
        for seq in self.prefilling:
            end = min(seq.num_computed + budget, len(seq.prompt_token_ids))
            chunks.append(PrefillChunk(seq, seq.num_computed, end))
            budget -= end - seq.num_computed
            if budget == 0:
                return StepPlan(decode=list(self.running), prefills=chunks)
        # Admit while budget is left: a new prompt goes to the slot above the last occupied one.
        while budget > 0 and self.waiting:
            slot = self.prefilling[-1].slot + 1 if self.prefilling else len(self.running)
            if slot >= self.num_slots:
                break
            seq = self.waiting.popleft()
            seq.slot = slot
            seq.queue_time_s = time.perf_counter() - seq.arrival
            self.prefilling.append(seq)
            end = min(budget, len(seq.prompt_token_ids))
            chunks.append(PrefillChunk(seq, 0, end))
            budget -= end
        return StepPlan(decode=list(self.running), prefills=chunks)

    def prefill_done(self, sequence: Sequence) -> list[SlotMove]:
        """`sequence` (the oldest prompt) is all in the cache: it joins the running batch at slot R."""
        assert sequence is self.prefilling[0] and sequence.prompt_done
        self.prefilling.pop(0)
        moves = self._move(sequence, len(self.running))
        self.running.append(sequence)
        return moves

    def free(self, request_id: str) -> tuple[Sequence | None, list[SlotMove]]:
        """Remove a finished or aborted request wherever it is; its slot is free at once.

        Returns the sequence (None if unknown) and the slot moves that keep running sequences packed.
        """
        for seq in self.waiting:
            if seq.request_id == request_id:
                self.waiting.remove(seq)
                return seq, []
        for seq in self.prefilling:
            if seq.request_id == request_id:
                self.prefilling.remove(seq)
                seq.slot = None
                return seq, []
        for i, seq in enumerate(self.running):
            if seq.request_id == request_id:
                last = self.running.pop()
                moves = []
                if last is not seq:
                    self.running[i] = last
                    moves = self._move(last, i)
                seq.slot = None
                return seq, moves
        return None, []

    def _move(self, sequence: Sequence, dst: int) -> list[SlotMove]:
        src, sequence.slot = sequence.slot, dst
        return [] if src == dst else [SlotMove(src, dst, sequence.num_computed)]

    @property
    def has_work(self) -> bool:
        return bool(self.waiting or self.prefilling or self.running)

    @property
    def slots_used(self) -> int:
        return len(self.running) + len(self.prefilling)
