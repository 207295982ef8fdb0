"""Signal handling, without a JVM, in a real subprocess: the harness's ``up`` loop
(``run_until_signalled``) with three children that, like a JVM, take a while to exit after
SIGTERM (here: until the test lets them). However many SIGTERMs follow the first (as from
``timeout``, or an impatient runner), every child is still stopped by PID and exits cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from . import harness

CHILD = """
import signal, sys, time
from pathlib import Path
out = Path(sys.argv[1])

def on_term(signum, frame):
    (out / "term").write_text("")
    deadline = time.monotonic() + 120
    while not (out / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    (out / "done").write_text("")
    sys.exit(0)

signal.signal(signal.SIGTERM, on_term)
(out / "ready").write_text("")
while True:
    signal.pause()
"""

HARNESS = """
import sys
from pathlib import Path
from tests.e2e.harness import ManagedProcess, RunDir, run_until_signalled, wait_until

CHILD, folder, how = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
run = RunDir(folder / "run")
children = [folder / f"child{i}" for i in range(3)]

def start():
    for i, out in enumerate(children):
        out.mkdir()
        proc = ManagedProcess(f"child{i}", [sys.executable, "-c", CHILD, str(out)], out / "log")
        run.register(proc).start()
        (out / "pid").write_text(str(proc.pid))
    wait_until(lambda: all((c / "ready").exists() for c in children), 60, "children ready")
    print("ready", flush=True)
    return lambda: None

if how == "up":
    sys.exit(run_until_signalled(run, start))
# a fixture's teardown: stopping its processes before any signal came
from tests.e2e.harness import install_sigterm_handler
install_sigterm_handler()
start()
sys.stdin.readline()
try:
    run.stop_all()
except KeyboardInterrupt:
    stopped = not any(p.running for p in run.processes)
    print("interrupted " + ("after the stop" if stopped else "mid-stop"), flush=True)
    sys.exit(3)
"""


def start_harness(tmp_path: Path, how: str) -> subprocess.Popen[str]:
    with open(tmp_path / "harness.err", "w") as err:  # the child keeps its own copy
        proc = subprocess.Popen(
            [sys.executable, "-c", HARNESS, CHILD, str(tmp_path), how],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            cwd=harness.REPO_ROOT,
        )
    assert proc.stdout is not None
    if proc.stdout.readline() != "ready\n":
        proc.kill()
        proc.communicate()
        raise AssertionError((tmp_path / "harness.err").read_text())
    return proc


def children(tmp_path: Path) -> list[Path]:
    return [tmp_path / f"child{i}" for i in range(3)]


def wait_for_err(proc: subprocess.Popen[str], tmp_path: Path, text: str) -> None:
    """Until the harness has logged ``text`` (it handled the signal), or has exited (it did not
    survive the signal: the assertions after say what that broke)."""
    harness.wait_until(
        lambda: text in (tmp_path / "harness.err").read_text() or proc.poll() is not None,
        60,
        f"{text!r} from the harness",
    )


def release(tmp_path: Path) -> None:
    for child in children(tmp_path):
        (child / "release").write_text("")


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def assert_stopped_cleanly(tmp_path: Path) -> None:
    for child in children(tmp_path):
        # "done": it got SIGTERM and finished its shutdown, rather than dying of a SIGKILL
        assert (child / "term").exists() and (child / "done").exists(), child
        pid = int((child / "pid").read_text())
        # the harness reaped it before exiting, so it is gone, not a zombie
        assert gone(pid), pid


def test_repeated_sigterms_do_not_cut_the_stopping_short(tmp_path: Path) -> None:
    proc = start_harness(tmp_path, "up")
    try:
        proc.send_signal(signal.SIGTERM)
        # the newest child is stopped first: once it has its SIGTERM the harness is stopping
        harness.wait_until(lambda: (children(tmp_path)[2] / "term").exists(), 60, "the stop")
        for _ in range(5):
            proc.send_signal(signal.SIGTERM)
        wait_for_err(proc, tmp_path, "SIGTERM ignored: already stopping")
        release(tmp_path)
        # and more while the other children are stopped
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.05)
        rc = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    err = (tmp_path / "harness.err").read_text()
    assert rc == 0, err
    assert_stopped_cleanly(tmp_path)


def test_a_signal_during_a_stop_is_raised_after_it(tmp_path: Path) -> None:
    proc = start_harness(tmp_path, "teardown")
    try:
        assert proc.stdin is not None
        proc.stdin.write("stop\n")
        proc.stdin.flush()
        harness.wait_until(lambda: (children(tmp_path)[2] / "term").exists(), 60, "the stop")
        proc.send_signal(signal.SIGTERM)
        wait_for_err(
            proc, tmp_path, "SIGTERM: stopping once the processes being stopped have exited"
        )
        release(tmp_path)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    err = (tmp_path / "harness.err").read_text()
    assert (proc.returncode, out) == (3, "interrupted after the stop\n"), err
    assert_stopped_cleanly(tmp_path)
