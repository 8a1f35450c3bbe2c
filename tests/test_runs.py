import json

import pytest

from lmstack.atomic import atomic_open, atomic_path, write_json
from lmstack.runs import MANIFEST, RunDir, StageResult


def counting_stage(calls: list, text: str = "hello"):
    def body(stage_dir):
        calls.append(stage_dir)
        write_json(stage_dir / "out.json", {"text": text})
        return StageResult(outputs={"out": "out.json"}, metrics={"n": len(calls)})
    return body


def test_manifest_records_config_inputs_outputs_and_versions(tmp_path):
    src = tmp_path / "input.txt"
    src.write_text("data")
    run = RunDir(tmp_path / "runs" / "p")
    outcome = run.run_stage("data", counting_stage([]), config={"a": 1}, inputs=[src])
    m = json.loads((tmp_path / "runs/p/data" / MANIFEST).read_text())
    assert m["stage"] == "data" and m["config"] == {"a": 1} and len(m["config_hash"]) == 64
    assert m["inputs"] == {str(src): "3a6eb0790f39ac87c94f3856b2dd2c5d110e6811602261a9a923d3bb23adc8b7"}
    assert m["outputs"]["out"]["path"] == "out.json" and m["metrics"] == {"n": 1}
    assert m["versions"]["torch"] and m["seconds"] >= 0
    assert outcome.output("out").read_text().strip().startswith("{")
    assert not (tmp_path / "runs/p/data/.pending").exists()


def test_unchanged_stage_is_skipped_and_force_reruns(tmp_path):
    run, calls = RunDir(tmp_path), []
    assert not run.run_stage("s", counting_stage(calls), config={"a": 1}).skipped
    assert run.run_stage("s", counting_stage(calls), config={"a": 1}).skipped
    assert len(calls) == 1
    assert not run.run_stage("s", counting_stage(calls), config={"a": 1}, force=True).skipped
    assert len(calls) == 2


def test_changed_config_input_or_upstream_reruns(tmp_path):
    run, calls = RunDir(tmp_path / "r"), []
    src = tmp_path / "in.txt"
    src.write_text("one")
    up = run.run_stage("up", counting_stage([]), config={})
    run.run_stage("s", counting_stage(calls), config={"a": 1}, inputs=[src], upstream=[up])
    run.run_stage("s", counting_stage(calls), config={"a": 2}, inputs=[src], upstream=[up])
    src.write_text("two")
    run.run_stage("s", counting_stage(calls), config={"a": 2}, inputs=[src], upstream=[up])
    up2 = run.run_stage("up", counting_stage([], text="other"), config={"changed": True})
    run.run_stage("s", counting_stage(calls), config={"a": 2}, inputs=[src], upstream=[up2])
    assert len(calls) == 4


def test_missing_output_reruns(tmp_path):
    run, calls = RunDir(tmp_path), []
    run.run_stage("s", counting_stage(calls), config={})
    (tmp_path / "s/out.json").unlink()
    assert not run.run_stage("s", counting_stage(calls), config={}).skipped
    assert len(calls) == 2


def test_crashed_stage_leaves_no_manifest_and_resumes_in_place(tmp_path):
    run = RunDir(tmp_path)

    def crashing(stage_dir):
        (stage_dir / "checkpoint").write_text("step 5")
        with atomic_open(stage_dir / "big.bin", "wb") as f:
            f.write(b"half")
            raise KeyboardInterrupt  # killed mid-write
    with pytest.raises(KeyboardInterrupt):
        run.run_stage("train", crashing, config={"k": 1})
    stage = tmp_path / "train"
    assert not (stage / MANIFEST).exists() and not (stage / "big.bin").exists()
    assert [p.name for p in stage.iterdir() if p.name.startswith(".big")] == []

    seen = []

    def resuming(stage_dir):
        seen.append((stage_dir / "checkpoint").read_text())
        return StageResult()
    run.run_stage("train", resuming, config={"k": 1})
    assert seen == ["step 5"]  # same key: the folder is kept for resuming


def test_crashed_stage_with_other_config_starts_clean(tmp_path):
    run = RunDir(tmp_path)

    def crashing(stage_dir):
        (stage_dir / "checkpoint").write_text("old")
        raise RuntimeError("boom")
    with pytest.raises(RuntimeError):
        run.run_stage("train", crashing, config={"k": 1})
    seen = []
    run.run_stage("train", lambda d: seen.append((d / "checkpoint").exists()) or StageResult(), config={"k": 2})
    assert seen == [False]


def test_atomic_path_replaces_folders_whole(tmp_path):
    target = tmp_path / "model"
    with atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "a").write_text("1")
    with pytest.raises(ValueError):
        with atomic_path(target) as tmp:
            tmp.mkdir()
            (tmp / "b").write_text("2")
            raise ValueError
    assert sorted(p.name for p in target.iterdir()) == ["a"]
    with atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "b").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == ["b"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
