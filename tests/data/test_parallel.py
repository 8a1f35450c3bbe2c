"""Worker processes and Ray Data give byte-for-byte the output of a single process; a run killed
outright leaves nothing behind that the rerun does not clean up."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lmstack.data.clean import clean
from lmstack.data.recipe import recipe_from_dict
from lmstack.errors import UserError

_ZH = ["您好，我的信用卡丢了，怎么办理挂失？", "請問轉賬限額是多少？", "这个产品的年费是多少，可以免除吗？",
       "我想修改绑定的手机号码，需要带什么证件？", "网银转账失败了，钱什么时候退回？"]
_EN = ["How do I raise my credit card limit on the mobile app?", "Can I open an account online with my passport?",
       "What are the fees for international transfers to Europe?", "Why was my card declined at the supermarket today?",
       "The quick brown fox jumps over the lazy dog near the bank."]


def _corpus(tmp_path: Path, n: int = 1500) -> None:
    """A bilingual corpus with exact and near duplicates, PII, traditional Chinese, HTML, short rows,
    chat rows and unreadable rows, in a JSON-lines file and a CSV file."""
    rng = random.Random(7)
    lines = []
    for i in range(n):
        base = rng.choice(_ZH + _EN)
        kind = rng.random()
        if kind < 0.25:
            text = base  # exact duplicate of an earlier row, mostly
        elif kind < 0.45:
            text = f"{base} {rng.choice(['Thanks!', '谢谢', 'Please help.', '急'])}"  # near duplicate
        elif kind < 0.55:
            text = f"<p>{base}</p> 电话13812345678 mail li.na{i}@163.com"
        elif kind < 0.6:
            text = rng.choice(["嗯", "ok", "?"])
        else:
            text = f"{base} (case {i}: {rng.randint(0, 10**6)})"
        lines.append(json.dumps({"id": i, "text": text}, ensure_ascii=False).encode())
        if i % 97 == 5:
            lines.append(json.dumps({"id": f"c{i}", "messages": [{"role": "user", "content": base},
                                                                  {"role": "assistant", "content": "請撥打客服熱線。"}]},
                                    ensure_ascii=False).encode())
        if i % 211 == 3:
            lines += [b'{"id": broken', b'{"body": "no text"}', b'{"text": "caf\xe9 latin-1"}']
    (tmp_path / "a.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    rows = ["id,text"] + [f"{i},{rng.choice(_ZH + _EN)} {i % 40}" for i in range(400)] + ["bad,row,extra"]
    (tmp_path / "b.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def _recipe(tmp_path: Path, **extra):
    return recipe_from_dict({
        "inputs": ["a.jsonl", "b.csv"],
        "steps": [{"op": "strip_html"}, {"op": "nfkc"}, {"op": "chinese_script"}, {"op": "pii"},
                  {"op": "exact_dedup"},
                  {"op": "length", "min": 20},  # a per-row step after a stateful one
                  {"op": "minhash_dedup", "en_unit": "chars", "threshold": 0.6, "files": ["a.jsonl"]},
                  {"op": "special_chars"}],
        "max_removed_ratio": 1.0, **extra}, tmp_path)


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _check_reference(report: dict) -> None:
    removed = {o["step"]: o["removed"] for o in report["operators"]}
    assert report["rows_read"] == 1916 and report["rejected"] == {"bad JSON": 8, "bad encoding": 8, "bad CSV": 1,
                                                                  "missing field": 8}
    assert (removed["exact_dedup"], removed["length"], removed["minhash_dedup"], report["rows_kept"]) == (986, 89, 343, 498)
    assert report["pii"] == {"email": 144, "phone": 144}


def test_worker_processes_write_the_same_bytes_as_one_process(tmp_path):
    _corpus(tmp_path)
    one = clean(_recipe(tmp_path), tmp_path / "one")
    _check_reference(one)
    two = clean(_recipe(tmp_path, num_proc=2), tmp_path / "two")
    assert two == one
    assert _tree(tmp_path / "two") == _tree(tmp_path / "one")
    assert clean(_recipe(tmp_path), tmp_path / "three", num_proc=3) == one  # the argument overrides the recipe
    assert _tree(tmp_path / "three") == _tree(tmp_path / "one")


@pytest.mark.slow  # starting a local Ray instance takes most of its ~15 s
def test_ray_executor_writes_the_same_bytes_as_the_local_one(tmp_path):
    _corpus(tmp_path, n=600)
    local = clean(_recipe(tmp_path), tmp_path / "local")
    on_ray = clean(_recipe(tmp_path, executor="ray", num_proc=2), tmp_path / "ray")
    assert on_ray == local and local["rows_kept"] > 100
    assert _tree(tmp_path / "ray") == _tree(tmp_path / "local")


def test_ray_executor_without_ray_is_a_user_error(tmp_path, monkeypatch):
    _corpus(tmp_path, n=20)
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    with pytest.raises(UserError, match="executor 'ray' needs Ray Data") as err:
        clean(_recipe(tmp_path, executor="ray"), tmp_path / "out")
    assert "pip install 'lmstack[ray]'" in str(err.value)
    assert not (tmp_path / "out").exists()


def test_bad_num_proc_or_executor_is_a_user_error(tmp_path):
    _corpus(tmp_path, n=20)
    with pytest.raises(UserError, match="num_proc must be at least 1"):
        clean(_recipe(tmp_path), tmp_path / "out", num_proc=0)
    with pytest.raises(UserError, match="unknown executor 'spark'"):
        clean(_recipe(tmp_path), tmp_path / "out", executor="spark")
    with pytest.raises(UserError, match="executor"):
        _recipe(tmp_path, executor="spark")


_KILLED_RUN = """
import os, signal, sys, multiprocessing
from pathlib import Path
from lmstack.data import report
from lmstack.data.clean import clean
from lmstack.data.recipe import recipe_from_dict
import json
raw, base, out, pids = sys.argv[1:]
real_kept, n = report.RunStats.kept, [0]
def kept(self, *a):
    n[0] += 1
    if n[0] == 300:  # mid-run, workers busy: no cleanup code runs after SIGKILL
        Path(pids).write_text(" ".join(str(p.pid) for p in multiprocessing.active_children()))
        os.kill(os.getpid(), signal.SIGKILL)
    return real_kept(self, *a)
report.RunStats.kept = kept
clean(recipe_from_dict(json.loads(raw), Path(base)), out)
"""


def _gone(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status  # a zombie nobody reaps is dead too


def test_a_run_killed_with_its_workers_reruns_to_the_same_bytes(tmp_path):
    _corpus(tmp_path)
    reference = clean(_recipe(tmp_path), tmp_path / "reference")
    raw = {"inputs": ["a.jsonl", "b.csv"], "steps": [s.model_dump(exclude_none=True) | s.params for s in _recipe(tmp_path).steps],
           "max_removed_ratio": 1.0, "num_proc": 2}
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.jsonl").write_text("previous run\n")
    done = subprocess.run([sys.executable, "-c", _KILLED_RUN, json.dumps(raw), str(tmp_path), str(tmp_path / "out"),
                           str(tmp_path / "pids")], capture_output=True, text=True, timeout=60)
    assert done.returncode == -signal.SIGKILL, done.stderr
    workers = [int(p) for p in (tmp_path / "pids").read_text().split()]
    assert len(workers) == 2
    deadline = time.time() + 10
    while not all(map(_gone, workers)) and time.time() < deadline:
        time.sleep(0.05)
    assert all(map(_gone, workers)), "workers outlived the killed run"
    assert _tree(tmp_path / "out") == {"a.jsonl": b"previous run\n"}  # the output is never half-written
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")]  # the killed run's temporary folder
    assert clean(_recipe(tmp_path, num_proc=2), tmp_path / "out") == reference
    assert _tree(tmp_path / "out") == _tree(tmp_path / "reference")
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")]  # removed by the rerun
    assert os.listdir(tmp_path / "out")


def test_a_user_error_in_a_worker_comes_back_with_its_hint():
    import pickle

    from lmstack.data.stage import run_in_worker

    class Failing:
        def __call__(self, units):
            raise UserError("row 3 needs a model", hint="pip install the-model")

    failed = pickle.loads(pickle.dumps(run_in_worker(Failing(), [])))
    with pytest.raises(UserError, match="row 3 needs a model") as err:
        failed.raise_()
    assert err.value.hint == "pip install the-model"
