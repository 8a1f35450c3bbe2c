"""Releasing a thread's OpenMP workers: the team ends, and parallel work afterwards still runs and gives the same result."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import ctypes, os, shutil, sys, torch
    if len(sys.argv) > 1:  # another wheel's renamed copy of libgomp, loaded first (as scikit-learn's is)
        copy = os.path.join(sys.argv[1], "libgomp-0123abcd.so.1.0.0")
        shutil.copy(os.path.join(os.path.dirname(torch.__file__), "lib", "libgomp.so.1"), copy)
        ctypes.CDLL(copy)
    from lmstack.hardware.openmp import release_openmp_workers

    def threads():
        return len(os.listdir("/proc/self/task"))

    torch.set_num_threads(3)
    a = torch.randn(512, 512)
    expected = a @ a
    with_team = threads()
    released = release_openmp_workers()
    after = threads()
    again = a @ a  # a new team starts on demand
    print(with_team, after, released, threads(), torch.equal(expected, again))
""")


@pytest.mark.parametrize("other_copy", [False, True], ids=["torch-only", "with-a-renamed-copy"])
def test_release_ends_the_calling_threads_team_and_work_goes_on(other_copy, tmp_path):
    # In a fresh interpreter: the team's size must not depend on what other tests ran in this process.
    args = [str(tmp_path)] if other_copy else []
    out = subprocess.run([sys.executable, "-c", SCRIPT, *args], capture_output=True, text=True,
                         check=True).stdout.split()
    with_team, after, released, restarted, same = int(out[0]), int(out[1]), out[2], int(out[3]), out[4]
    assert released == "True"  # the Linux torch wheels ship libgomp with OpenMP 5.0's pause
    assert with_team - after == 2  # torch's 3-thread team's two workers are gone, whatever else is loaded
    assert restarted == with_team and same == "True"
