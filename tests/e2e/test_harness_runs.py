"""Run folders, without a JVM: runs share one base folder, and creating one never removes a
folder another live run is using; only folders of runs that ended days ago go."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from . import harness
from .harness import processes
from .harness.common import owner_record

DAY = 86400.0


def make_run_folder(base: Path, name: str, owner: str | None, age_days: float) -> Path:
    folder = base / (processes.RUN_PREFIX + name)
    (folder / "kafka").mkdir(parents=True)
    (folder / "kafka" / "kafka.log").write_text("logs\n")
    if owner is not None:
        (folder / processes.OWNER_FILE).write_text(owner)
    then = time.time() - age_days * DAY
    os.utime(folder, (then, then))
    return folder


def dead_owner() -> str:
    """The owner record of a process that has exited."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from tests.e2e.harness.common import owner_record as o; print(o())",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=harness.REPO_ROOT,
    )
    return done.stdout.strip()


def test_only_old_folders_of_finished_runs_are_pruned(tmp_path: Path) -> None:
    keep_days = processes.KEEP_DAYS
    old = keep_days + 1
    dead = dead_owner()
    folders = {
        "old-dead": make_run_folder(tmp_path, "old-dead", dead, old),
        "old-no-owner": make_run_folder(tmp_path, "old-no-owner", None, old),
        # PID 1 lives, but it is not the process that started this run
        "old-reused-pid": make_run_folder(tmp_path, "old-reused-pid", "1 -1", old),
        "old-live": make_run_folder(tmp_path, "old-live", owner_record(), old),
        "recent-dead": make_run_folder(tmp_path, "recent-dead", dead, keep_days - 1),
    }
    unrelated = tmp_path / "something-else"
    unrelated.mkdir()
    os.utime(unrelated, (0, 0))

    removed = processes.prune_runs(tmp_path)

    assert sorted(p.name for p in removed) == sorted(
        folders[k].name for k in ("old-dead", "old-no-owner", "old-reused-pid")
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [folders["old-live"].name, folders["recent-dead"].name, unrelated.name]
    )


HOLD_A_RUN = """
import sys
from tests.e2e.harness import RunDir
print(RunDir().path, flush=True)
sys.stdin.read()  # live until the test lets go
"""


def test_a_new_run_never_removes_a_live_runs_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STATEFUN_E2E_RUNS", str(tmp_path))
    with subprocess.Popen(
        [sys.executable, "-c", HOLD_A_RUN],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=harness.REPO_ROOT,
    ) as other:
        assert other.stdin is not None and other.stdout is not None
        theirs = Path(other.stdout.readline().strip())
        assert (theirs / processes.OWNER_FILE).read_text().split()[0] == str(other.pid)
        (theirs / "kafka").mkdir()
        (theirs / "kafka" / "kafka.log").write_text("theirs\n")
        ancient = time.time() - 30 * DAY
        os.utime(theirs, (ancient, ancient))

        # more runs than the old keep-the-newest-ten rule allowed, while the other one lives
        mine = [harness.RunDir() for _ in range(12)]

        assert (theirs / "kafka" / "kafka.log").read_text() == "theirs\n"
        assert all(run.path.is_dir() for run in mine)
        other.stdin.close()
        assert other.wait(timeout=60) == 0

    # its owner has exited: the next run may clean it up
    harness.RunDir()
    assert not theirs.exists()
    assert all(run.path.is_dir() for run in mine)
