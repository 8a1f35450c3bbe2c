"""A train stage whose config changed starts over, and says so in one line when it deletes checkpoints."""

import pytest

from lmstack.runs import RunDir, StageResult


def crash_with_checkpoints(stage_dir):
    (stage_dir / "checkpoints" / "checkpoint-4").mkdir(parents=True)
    raise RuntimeError("killed")


def test_changed_config_announces_that_it_deletes_the_checkpoints(tmp_path, capsys):
    run = RunDir(tmp_path)
    with pytest.raises(RuntimeError):
        run.run_stage("train", crash_with_checkpoints, config={"lr": 0.01})
    capsys.readouterr()
    seen = []
    run.run_stage("train", lambda d: seen.append((d / "checkpoints").exists()) or StageResult(), config={"lr": 0.02})
    err = capsys.readouterr().err
    assert seen == [False]
    assert err.count("\n") == 1
    assert err.startswith("train: starting over because its config, input files or upstream stages changed since "
                          "the interrupted run; deleting 1 checkpoint(s) in ")
    assert err.rstrip().endswith(str(tmp_path / "train" / "checkpoints"))


def test_same_config_resumes_silently_and_force_says_why(tmp_path, capsys):
    run = RunDir(tmp_path)
    with pytest.raises(RuntimeError):
        run.run_stage("train", crash_with_checkpoints, config={"lr": 0.01})
    seen = []
    run.run_stage("train", lambda d: seen.append((d / "checkpoints").exists()) or StageResult(), config={"lr": 0.01})
    assert seen == [True] and capsys.readouterr().err == ""
    run.run_stage("train", lambda d: StageResult(), config={"lr": 0.01}, force=True)
    assert "train: starting over because --force was given" in capsys.readouterr().err
