"""Iteration-level scheduling without a model: queue bound, admission, chunked prefill, packing."""

from __future__ import annotations

import pytest

from lmstack.serve.engine.base import QueueFull, SamplingParams
from lmstack.serve.engine.scheduler import Scheduler, Sequence, SlotMove


def seq(rid: str, prompt_len: int = 3) -> Sequence:
    return Sequence(rid, list(range(prompt_len)), SamplingParams())


def run_chunks(s: Scheduler, chunks) -> list[str]:
    """Do what the engine does with a step's chunks; the ids of the prompts that finished."""
    done = []
    for chunk in chunks:
        chunk.sequence.num_computed = chunk.end
        if chunk.sequence.prompt_done:
            s.prefill_done(chunk.sequence)
            done.append(chunk.sequence.request_id)
    return done


def run_prefill(s: Scheduler) -> None:
    """Step until nothing is left to prefill."""
    while s.prefilling or s.waiting and s.slots_used < s.num_slots:
        run_chunks(s, s.schedule().prefills)


def test_queue_is_bounded():
    s = Scheduler(num_slots=1, max_queue=2, prefill_chunk_tokens=8)
    s.add(seq("a"))
    s.add(seq("b"))
    with pytest.raises(QueueFull):
        s.add(seq("c"))


def test_long_prompt_is_prefilled_in_chunks_interleaved_with_decode():
    s = Scheduler(num_slots=4, max_queue=8, prefill_chunk_tokens=4)
    s.add(seq("short", 2))
    run_prefill(s)
    s.add(seq("long", 10))
    s.add(seq("next", 3))
    chunks = []
    for _ in range(3):
        plan = s.schedule()
        assert [q.request_id for q in plan.decode] == ["short"]  # decoding never stops
        chunks.append([(c.sequence.request_id, c.start, c.end) for c in plan.prefills])
        run_chunks(s, plan.prefills)
    # At most 4 prompt tokens per step; the leftover budget of the last step starts the next prompt.
    assert chunks == [[("long", 0, 4)], [("long", 4, 8)], [("long", 8, 10), ("next", 0, 2)]]
    assert [q.request_id for q in s.schedule().decode] == ["short", "long"]


def test_admission_waits_for_a_free_slot_and_free_releases_it():
    s = Scheduler(num_slots=2, max_queue=8, prefill_chunk_tokens=8)
    for rid in "abc":
        s.add(seq(rid))
    run_prefill(s)
    run_prefill(s)
    plan = s.schedule()
    assert plan.prefills == [] and len(s.waiting) == 1 and s.slots_used == 2
    freed, moves = s.free("a")
    assert freed.request_id == "a" and freed.slot is None
    assert moves == [SlotMove(src=1, dst=0, length=3)]  # b moves down so running stays packed
    plan = s.schedule()
    assert [q.request_id for q in plan.decode] == ["b"] and [c.sequence.request_id for c in plan.prefills] == ["c"]
    assert plan.prefills[0].sequence.slot == 1


def test_running_sequences_stay_packed_in_slot_order():
    s = Scheduler(num_slots=4, max_queue=8, prefill_chunk_tokens=8)
    for rid in "abcd":
        s.add(seq(rid))
    run_prefill(s)
    assert [(q.request_id, q.slot) for q in s.running] == [("a", 0), ("b", 1), ("c", 2), ("d", 3)]
    s.free("b")
    s.free("a")
    assert [(q.request_id, q.slot) for q in s.schedule().decode] == [("c", 0), ("d", 1)]


def test_prefill_moves_down_when_running_sequences_leave_meanwhile():
    s = Scheduler(num_slots=3, max_queue=8, prefill_chunk_tokens=2)
    s.add(seq("a"))
    run_prefill(s)
    s.add(seq("long", 6))
    s.add(seq("short", 2))
    plan = s.schedule()
    assert [(c.sequence.request_id, c.sequence.slot) for c in plan.prefills] == [("long", 1)]
    run_chunks(s, plan.prefills)
    s.free("a")
    run_chunks(s, s.schedule().prefills)
    long_seq = s.prefilling[0]
    plan = s.schedule()  # long's last 2 tokens use the whole budget: short still waits
    assert [(c.sequence.request_id, c.end) for c in plan.prefills] == [("long", 6)]
    long_seq.num_computed = 6
    assert s.prefill_done(long_seq) == [SlotMove(src=1, dst=0, length=6)]
    plan = s.schedule()
    assert [(c.sequence.request_id, c.sequence.slot) for c in plan.prefills] == [("short", 1)]
    run_chunks(s, plan.prefills)
    assert [(q.request_id, q.slot) for q in s.running] == [("long", 0), ("short", 1)]


def test_free_removes_waiting_and_prefilling_requests_and_ignores_unknown_ones():
    s = Scheduler(num_slots=1, max_queue=8, prefill_chunk_tokens=2)
    s.add(seq("p", 6))
    s.add(seq("w"))
    s.schedule()
    assert s.free("w")[0].request_id == "w" and not s.waiting
    freed, moves = s.free("p")
    assert freed.request_id == "p" and moves == [] and s.prefilling == [] and not s.has_work
    assert s.free("nobody") == (None, [])
