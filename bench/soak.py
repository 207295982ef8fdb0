"""Soak: W1 and W2 over HTTP for minutes on end, through `statefun serve` as a user runs it.

    python bench/soak.py                 # 10 min of W1 + 10 min of W2 (~21 min), writes bench/results-soak.md
    python bench/soak.py --minutes 0.5   # quick check (~1 min), writes nothing unless --out

For each workload a fresh ``python -m statefun serve bench.impl_ours:functions --port P
--access-log`` (the benchmark registry, the CLI's defaults otherwise: host 127.0.0.1,
path /statefun; with one aiohttp access line per request) is started
from the repository root, its four answers are checked against CONTRACT.md
over HTTP, and then wrk posts the workload's payload without pause, in
back-to-back windows (``-d`` = the window, 10 s by default). After every
window the server's resident memory (VmRSS) and CPU time are read from /proc.

What it judges, per workload:

  errors      zero non-2xx answers and zero socket errors in every window,
              and nothing but 200 access lines in the server's log
  memory      VmRSS at the end within 10 % of VmRSS after the warm-up
              (the first tenth of the run: the first minute of ten)
  throughput  no downward trend: the mean requests/s of the last third of the
              windows after the warm-up at most 10 % below the first third's.
              A drop while the server waited for a CPU more than 10 % of the
              time (its run-queue wait, /proc/PID/schedstat) is INCONCLUSIVE,
              not FAIL: the machine's other work, not the server, may explain it.

Also reported, not judged: min/median/max and the coefficient of variation of
requests/s ("steady" up to 10 %), and CPU per request. Exit status 0 if every
verdict is PASS, 1 on any FAIL, 3 if the worst is INCONCLUSIVE.

The analysis (``throughput``, ``memory``, ``analyse``, ``tenths``) is pure,
tested in tests/bench/test_soak.py without any timing. Standard library only:
run it with any Python 3.10+; the server runs in the project's .venv. Every
process started is stopped by PID at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import math
import os
import re
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
import run  # noqa: E402  (machine facts and the project .venv, shared with the other runners)
import run_http  # noqa: E402  (the wrk script, the over-HTTP contract check, server versions)
from contract import load_payloads, payload_dir  # noqa: E402

TARGET = "bench.impl_ours:functions"
WORKLOADS = ("w1_greeter", "w2_batch")
LABELS = {"w1_greeter": "W1 greeter, 1 message", "w2_batch": "W2 batch, 100 messages, 3 states"}

RSS_LIMIT = 0.10
CV_LIMIT = 0.10
TREND_LIMIT = 0.10
WAIT_LIMIT = 0.10

PASS, FAIL, INCONCLUSIVE = "PASS", "FAIL", "INCONCLUSIVE"
EXIT = {PASS: 0, FAIL: 1, INCONCLUSIVE: 3}

# aiohttp's default access line: `%a %t "%r" %s %b ...`; counting this in the raw
# bytes costs the reader almost nothing at thousands of lines a second.
ACCESS_OK = b'"POST /statefun HTTP/1.1" 200 '


# --- samples and their analysis (pure: no clock, no processes) --------------------------


@dataclass(frozen=True)
class Window:
    """One wrk run and what the server looked like at its end."""

    end_s: float  # since the workload's first window started
    seconds: float  # wrk's own measured duration
    requests: int
    socket_errors: int  # connect + read + write + timeout
    non2xx: int
    p99_us: int
    rss_kib: int
    cpu_s: float  # server CPU time (user + system) spent in the window
    wait_s: float  # time the server's event loop was ready to run but waited for a CPU
    load1: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_share(self) -> float:
        return self.cpu_s / self.seconds if self.seconds > 0 else 0.0

    @property
    def wait_share(self) -> float:
        return self.wait_s / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class Throughput:
    windows: int
    min: float
    median: float
    max: float
    mean: float
    cv: float  # population stdev / mean
    trend: float  # mean of the last third / mean of the first third - 1

    @property
    def steady(self) -> bool:
        return self.cv <= CV_LIMIT

    @property
    def falling(self) -> bool:
        return self.trend < -TREND_LIMIT


def thirds(values: Sequence[float]) -> tuple[float, float]:
    """Means of the first and last third (at least one value each)."""
    k = max(1, len(values) // 3)
    return statistics.fmean(values[:k]), statistics.fmean(values[-k:])


def throughput(rps: Sequence[float]) -> Throughput:
    if not rps:
        raise ValueError("no windows to judge")
    mean = statistics.fmean(rps)
    cv = statistics.pstdev(rps) / mean if mean > 0 else math.inf
    first, last = thirds(rps)
    trend = last / first - 1 if first > 0 else 0.0
    return Throughput(len(rps), min(rps), statistics.median(rps), max(rps), mean, cv, trend)


@dataclass(frozen=True)
class Memory:
    baseline_kib: int  # after the warm-up
    end_kib: int
    peak_kib: int  # highest sample after the warm-up
    slope_kib_per_min: float  # least squares over the samples from the baseline on

    @property
    def change(self) -> float:
        return self.end_kib / self.baseline_kib - 1

    @property
    def flat(self) -> bool:
        return abs(self.change) <= RSS_LIMIT


def baseline_index(windows: Sequence[Window], warmup_s: float) -> int:
    """The window whose end is the memory baseline: the last one ending within the warm-up.

    If even the first window ends after the warm-up, it is the warm-up.
    """
    if not windows:
        raise ValueError("no windows to judge")
    inside = [i for i, w in enumerate(windows) if w.end_s <= warmup_s]
    return inside[-1] if inside else 0


def measured(windows: Sequence[Window], warmup_s: float) -> list[Window]:
    """The windows after the baseline; the last window alone if none is."""
    return list(windows[baseline_index(windows, warmup_s) + 1 :]) or [windows[-1]]


def memory(windows: Sequence[Window], warmup_s: float) -> Memory:
    points = windows[baseline_index(windows, warmup_s) :]
    slope = 0.0
    if len(points) >= 2:
        fit = statistics.linear_regression(
            [w.end_s / 60 for w in points], [float(w.rss_kib) for w in points]
        )
        slope = fit.slope
    return Memory(points[0].rss_kib, points[-1].rss_kib, max(w.rss_kib for w in points), slope)


@dataclass(frozen=True)
class Pace:
    """How fast the server itself went over some windows, whatever the machine let it have."""

    requests: int
    cpu_s: float
    wait_s: float
    seconds: float

    @property
    def cost_us(self) -> float:
        return self.cpu_s / self.requests * 1e6 if self.requests else math.inf

    @property
    def ran(self) -> float:
        return self.cpu_s / self.seconds if self.seconds > 0 else 0.0

    @property
    def waited(self) -> float:
        return self.wait_s / self.seconds if self.seconds > 0 else 0.0


def pace(windows: Sequence[Window]) -> Pace:
    return Pace(
        sum(w.requests for w in windows),
        sum(w.cpu_s for w in windows),
        sum(w.wait_s for w in windows),
        sum(w.seconds for w in windows),
    )


@dataclass(frozen=True)
class Analysis:
    requests: int
    non2xx: int
    socket_errors: int
    throughput: Throughput
    memory: Memory
    first: Pace  # the first and last third of the windows after the warm-up
    last: Pace
    log_other: int = 0  # server log lines other than a 200 access line

    @property
    def clean(self) -> bool:
        return self.non2xx == 0 and self.socket_errors == 0 and self.log_other == 0

    @property
    def cost_trend(self) -> float:
        """CPU per request, last third against first, minus one."""
        return self.last.cost_us / self.first.cost_us - 1

    @property
    def contended(self) -> bool:
        """Whether the server waited for a CPU often enough to hide what it would have done."""
        return max(self.first.waited, self.last.waited) > WAIT_LIMIT

    @property
    def throughput_verdict(self) -> str:
        # A drop while the server queued for a CPU cannot be told from the machine
        # getting busier: neighbours also inflate CPU per request (shared caches,
        # hyperthreads), so no figure from here corrects for them.
        if not self.throughput.falling:
            return PASS
        return INCONCLUSIVE if self.contended else FAIL

    @property
    def verdict(self) -> str:
        if not (self.clean and self.memory.flat) or self.throughput_verdict == FAIL:
            return FAIL
        return self.throughput_verdict


def analyse(windows: Sequence[Window], warmup_s: float, log_other: int = 0) -> Analysis:
    """Every verdict on one workload's windows; errors count the warm-up too."""
    after = measured(windows, warmup_s)
    k = max(1, len(after) // 3)
    return Analysis(
        requests=sum(w.requests for w in windows),
        non2xx=sum(w.non2xx for w in windows),
        socket_errors=sum(w.socket_errors for w in windows),
        throughput=throughput([w.rps for w in after]),
        memory=memory(windows, warmup_s),
        first=pace(after[:k]),
        last=pace(after[-k:]),
        log_other=log_other,
    )


@dataclass(frozen=True)
class Tenth:
    start_s: float
    end_s: float
    windows: int
    rps: float  # requests / wrk seconds over its windows
    lowest_rps: float
    p99_us: int  # the worst window's
    non2xx: int
    socket_errors: int
    rss_kib: int  # at its last window's end
    pace: Pace
    load1: float


def tenths(windows: Sequence[Window]) -> list[Tenth]:
    """The windows in ten consecutive groups of (nearly) equal count, from the run's start.

    Grouped by count, not by clock: each wrk run overshoots its window by a few
    milliseconds, so clock boundaries would drift and leave some tenths empty.
    """
    out = []
    n = len(windows)
    for i in range(10):
        lo, hi = i * n // 10, (i + 1) * n // 10
        if lo == hi:
            continue
        g = windows[lo:hi]
        seconds = sum(w.seconds for w in g)
        requests = sum(w.requests for w in g)
        out.append(
            Tenth(
                start_s=windows[lo - 1].end_s if lo else 0.0,
                end_s=g[-1].end_s,
                windows=len(g),
                rps=requests / seconds if seconds else 0.0,
                lowest_rps=min(w.rps for w in g),
                p99_us=max(w.p99_us for w in g),
                non2xx=sum(w.non2xx for w in g),
                socket_errors=sum(w.socket_errors for w in g),
                rss_kib=g[-1].rss_kib,
                pace=pace(g),
                load1=g[-1].load1,
            )
        )
    return out


def pct(x: float) -> str:
    return f"{x * 100:+.1f} %"


def mib(kib: float) -> str:
    return f"{kib / 1024:.1f}"


def pass_fail(ok: bool) -> str:
    return mark(PASS if ok else FAIL)


def mark(verdict: str) -> str:
    return f"**{verdict}**"


def verdict_lines(a: Analysis, warmup_s: float, logged_ok: int | None = None) -> list[str]:
    t, m, f, la = a.throughput, a.memory, a.first, a.last
    logged = (
        f"; the server's log: {logged_ok:,} answers logged 200, {a.log_other} other lines"
        if logged_ok is not None
        else ""
    )
    limit = f"(limit -{TREND_LIMIT * 100:g} %)"
    waited = (
        f"waited for a CPU {f.waited * 100:.0f} % of the time in the first third "
        f"and {la.waited * 100:.0f} % in the last"
    )
    why = {
        PASS: f"no downward trend {limit}",
        FAIL: f"a downward trend {limit}, while the server had the CPU it asked for (it {waited})",
        INCONCLUSIVE: f"a downward trend {limit}, but the server {waited} (more than "
        f"{WAIT_LIMIT * 100:g} %): a busier machine, or a slower server, cannot be told apart",
    }[a.throughput_verdict]
    return [
        f"- Errors: {a.non2xx} non-2xx answers and {a.socket_errors} socket errors in "
        f"{a.requests:,} requests{logged}. {pass_fail(a.clean)}",
        f"- Memory: VmRSS {mib(m.baseline_kib)} MiB after the {warmup_s:g} s warm-up, "
        f"{mib(m.end_kib)} MiB at the end ({pct(m.change)}; peak {mib(m.peak_kib)} MiB, "
        f"slope {m.slope_kib_per_min / 1024:+.2f} MiB/min): "
        f"{'flat' if m.flat else 'not flat'} within {RSS_LIMIT * 100:g} %. {pass_fail(m.flat)}",
        f"- Requests/s: {t.windows} windows after the warm-up, min {t.min:,.0f}, "
        f"median {t.median:,.0f}, max {t.max:,.0f}; CV {t.cv * 100:.1f} % ("
        + (
            f"steady: at most {CV_LIMIT * 100:g} %"
            if t.steady
            else f"noisy: above {CV_LIMIT * 100:g} %, see the load column"
        )
        + f"); last third ÷ first third {pct(t.trend)}: {why}. {mark(a.throughput_verdict)}",
        f"- Server: ran {f.ran * 100:.0f} % of the time in the first third after the warm-up and "
        f"{la.ran * 100:.0f} % in the last, waited for a CPU {f.waited * 100:.0f} % and "
        f"{la.waited * 100:.0f} %; CPU per request {f.cost_us:,.0f} µs and {la.cost_us:,.0f} µs "
        f"({pct(a.cost_trend)}; neighbours inflate it too).",
    ]


# --- the server and the load ---------------------------------------------------------


@dataclass(frozen=True)
class LogTotals:
    lines: int
    ok: int  # 200 access lines
    other: int
    first_other: tuple[str, ...]
    at_stop: tuple[str, ...] = ()  # what it logged once told to stop, its shutdown included
    exit_code: int | None = None


class LogReader:
    """Drains the server's stderr (one access line per request) so it never blocks on a full pipe.

    Counts the 200 access lines and keeps the first few of any other line: a
    non-2xx access line, a warning, a traceback. Lines after ``stopping()`` are
    kept apart: the server says how it shuts down, which is no error.
    """

    def __init__(self, stream: Any) -> None:
        self._fd = stream.fileno()
        self._lock = threading.Lock()
        self._lines = self._ok = 0
        self._other: list[str] = []
        self._others = 0
        self._stopping = False
        self._at_stop: list[str] = []
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        rest = b""
        while True:
            chunk = os.read(self._fd, 1 << 16)
            if not chunk:
                break
            data = rest + chunk
            cut = data.rfind(b"\n") + 1
            done, rest = data[:cut], data[cut:]
            self._count(done)
        if rest:
            self._count(rest + b"\n")

    def _count(self, done: bytes) -> None:
        lines, ok = done.count(b"\n"), done.count(ACCESS_OK)
        other: list[str] = []
        if ok != lines:
            other = [
                line.decode(errors="replace") for line in done.splitlines() if ACCESS_OK not in line
            ]
        with self._lock:
            self._lines += lines
            self._ok += ok
            if self._stopping:
                self._at_stop.extend(other[: max(0, 20 - len(self._at_stop))])
                return
            self._others += len(other)
            self._other.extend(other[: max(0, 20 - len(self._other))])

    def stopping(self, settle: float = 0.5) -> None:
        """From now on, other lines are the shutdown's; first let the reader catch up with the load."""
        time.sleep(settle)
        with self._lock:
            self._stopping = True

    def totals(self, wait: float = 0.0) -> LogTotals:
        if wait:
            self._thread.join(wait)
        with self._lock:
            return LogTotals(
                self._lines, self._ok, self._others, tuple(self._other), tuple(self._at_stop)
            )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Served:
    """`python -m statefun serve` in the project .venv, from the repository root."""

    def __init__(self) -> None:
        self.port = free_port()
        self.command = [
            str(run.OURS_PY),
            "-m",
            "statefun",
            "serve",
            TARGET,
            "--port",
            str(self.port),
            # The one option beyond the defaults: a line per request is what lets the
            # soak check the server's own account of every answer, not only wrk's.
            "--access-log",
        ]
        self.proc = subprocess.Popen(
            self.command,
            cwd=str(ROOT),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
            start_new_session=True,  # our Ctrl-C does not reach it; we stop it ourselves
        )
        assert self.proc.stdout and self.proc.stderr
        self.log = LogReader(self.proc.stderr)
        ready, _, _ = select.select([self.proc.stdout], [], [], 60)
        line = self.proc.stdout.readline().decode() if ready else ""
        self.url = f"http://127.0.0.1:{self.port}/statefun"
        # Its defaults are what is soaked, but the load must stay on loopback.
        if not line.startswith("statefun: serving ") or not line.rstrip().endswith(
            f" at {self.url}"
        ):
            self.stop()
            raise SystemExit(
                f"statefun serve did not start on {self.url}: {line!r} {self.log.totals(5)}"
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        self.log.stopping()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def close(self) -> LogTotals:
        """Once stopped: the log's totals, after the reader has drained it to the end."""
        totals = self.log.totals(wait=5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()
        return dataclasses.replace(totals, exit_code=self.proc.returncode)


CLK_TCK = os.sysconf("SC_CLK_TCK")


def wait_seconds(pid: int) -> float:
    """Run-queue wait of the main thread (the event loop): runnable, but another task had the CPU."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9


def cpu_seconds(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # the name may hold spaces; fields from 3 on
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def wrk_window(url: str, script: Path, connections: int, seconds: int) -> dict[str, Any]:
    """One wrk run; errors are counted, not raised, so the report can say how many."""
    cmd = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    m = re.search(r"^RESULT (\{.*\})$", out.stdout, re.M)
    if out.returncode != 0 or not m:
        raise SystemExit(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    result: dict[str, Any] = json.loads(m.group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out.stdout)
    result["non2xx"] = int(non2xx.group(1)) if non2xx else 0
    # wrk counts a non-2xx answer in errors.status too; the socket errors are the rest.
    result["socket_errors"] = sum(result[k] for k in ("connect", "read", "write", "timeout"))
    return result


@dataclass(frozen=True)
class Outcome:
    workload: str
    duration_s: float
    window_s: int
    warmup_s: float
    windows: list[Window]
    log: LogTotals
    analysis: Analysis


def soak(workload: str, script: Path, args: argparse.Namespace) -> Outcome:
    duration = args.minutes * 60
    window = max(1, min(args.window, int(duration // 10)))
    count = max(1, round(duration / window))
    warmup = duration / 10
    server = Served()
    try:
        run_http.verify(run_http.Server("ours", run.OURS_PY, "ours", "", url=server.url))
        print(
            f"{workload}: statefun serve pid {server.pid} at {server.url}, answers verified; "
            f"{count} windows of {window} s, warm-up {warmup:g} s",
            file=sys.stderr,
        )
        windows: list[Window] = []
        start = time.monotonic()
        for i in range(count):
            cpu0, wait0 = cpu_seconds(server.pid), wait_seconds(server.pid)
            r = wrk_window(server.url, script, args.connections, window)
            if not server.alive():
                raise SystemExit(
                    f"statefun serve exited ({server.proc.returncode}) during window {i + 1}"
                )
            w = Window(
                end_s=time.monotonic() - start,
                seconds=r["duration_us"] / 1e6,
                requests=r["requests"],
                socket_errors=r["socket_errors"],
                non2xx=r["non2xx"],
                p99_us=r["p99_us"],
                rss_kib=rss_kib(server.pid),
                cpu_s=cpu_seconds(server.pid) - cpu0,
                wait_s=wait_seconds(server.pid) - wait0,
                load1=os.getloadavg()[0],
            )
            windows.append(w)
            print(
                f"  {workload} [{i + 1}/{count}] t={w.end_s:6.1f}s {w.rps:8,.0f} req/s  p99 {w.p99_us / 1000:6.2f} ms  "
                f"non-2xx {w.non2xx}  socket errors {w.socket_errors}  RSS {mib(w.rss_kib)} MiB  "
                f"ran {w.cpu_share * 100:3.0f} %  waited {w.wait_share * 100:3.0f} %  load {w.load1:.2f}",
                file=sys.stderr,
            )
    finally:
        server.stop()
        log = server.close()
    return Outcome(
        workload,
        duration,
        window,
        warmup,
        windows,
        log,
        analyse(windows, warmup, log_other=log.other),
    )


@dataclass(frozen=True)
class Setting:
    """What the report says about the run besides the windows."""

    command: str
    minutes: float
    connections: int
    facts: dict[str, str]  # run.machine()
    server: dict[str, str]  # run_http.server_info()
    wrk: str
    load_end: str
    elapsed_s: float
    date: str


def overall(outcomes: Sequence[Outcome]) -> str:
    verdicts = {o.analysis.verdict for o in outcomes}
    return FAIL if FAIL in verdicts else INCONCLUSIVE if INCONCLUSIVE in verdicts else PASS


def report(outcomes: Sequence[Outcome], at: Setting) -> str:
    rows: list[str] = []
    add = rows.append
    first = outcomes[0]
    facts, info = at.facts, at.server
    add(
        "# Soak: " + " and ".join(o.workload.split("_")[0].upper() for o in outcomes) + " over HTTP"
    )
    add("")
    add(
        f"Date: {at.date}. Command: `{at.command}` "
        f"({at.minutes:g} min per workload in {first.window_s} s windows, the first tenth "
        f"({first.warmup_s:g} s) the warm-up; {at.elapsed_s:.0f} s in all)."
    )
    add("")
    add(
        f"Machine: {facts['nproc']} CPUs (`nproc`), {facts['cpu']}, Linux {facts['kernel']}; load average "
        f"{facts['loadavg']} at start, {at.load_end} at end. **wrk and the server share these "
        f"{facts['nproc']} cores**, and the machine is shared with other work: requests/s dip when "
        "something else runs (the load column: 1-minute load average at the end of the span), and "
        "*waited for CPU* says how much the server felt of it."
    )
    add("")
    add(
        f"Server: `python -m statefun serve {TARGET} --port <free port> --access-log` from the repository "
        "root, a fresh process per workload, otherwise the CLI's defaults (127.0.0.1, `/statefun`); its "
        "access log writes one line per request, which soak.py reads from its stderr and counts; "
        f"{info['runtime']}, protobuf {info['protobuf']}, {info['server']}. "
        "Its four answers were decoded and checked against CONTRACT.md over HTTP before each workload. "
        "After every window, from /proc: the server's VmRSS (`status`), its user + system CPU time "
        "(`stat`: *ran*, as a share of the window) and its event loop's run-queue wait (`schedstat`: "
        "*waited for CPU*, runnable while another process had the CPU)."
    )
    add("")
    add(
        f"Load: `{at.wrk}`, `wrk -t1 -c{at.connections} -d{first.window_s}s --timeout 5s "
        "--latency -s post.lua http://127.0.0.1:<port>/statefun` back to back (each window a new wrk run, "
        "so new keep-alive connections), the script POSTing the payload file's bytes with "
        "`Content-Type: application/octet-stream`."
    )
    add("")
    for o in outcomes:
        span = "min" if o.duration_s >= 600 else "s"
        add(f"## {LABELS[o.workload]} (`{o.workload}`)")
        add("")
        add(
            "| span | windows | requests/s | lowest window | worst p99 ms | non-2xx | socket errors "
            "| RSS MiB | server ran | waited for CPU | CPU µs/request | load |"
        )
        add("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for t in tenths(o.windows):
            where = (
                f"{t.start_s / 60:.1f}–{t.end_s / 60:.1f} min"
                if span == "min"
                else f"{t.start_s:.0f}–{t.end_s:.0f} s"
            )
            add(
                f"| {where} | {t.windows} | {t.rps:,.0f} | {t.lowest_rps:,.0f} | {t.p99_us / 1000:.2f} | "
                f"{t.non2xx} | {t.socket_errors} | {mib(t.rss_kib)} | {t.pace.ran * 100:.0f} % | "
                f"{t.pace.waited * 100:.0f} % | {t.pace.cost_us:,.0f} | {t.load1:.2f} |"
            )
        add("")
        rows.extend(verdict_lines(o.analysis, o.warmup_s, o.log.ok))
        if o.log.first_other:
            add("")
            add("Other lines in the server's log (first few):")
            add("")
            add("```")
            rows.extend(o.log.first_other)
            add("```")
        if o.log.at_stop or o.log.exit_code is not None:
            add("")
            add(
                f"Stopped with SIGTERM, it exited with status {o.log.exit_code}"
                + (", logging:" if o.log.at_stop else ".")
            )
            if o.log.at_stop:
                add("")
                add("```")
                rows.extend(o.log.at_stop)
                add("```")
        add("")
    each = "; ".join(f"{o.workload} {o.analysis.verdict}" for o in outcomes)
    add(f"Verdict: {mark(overall(outcomes))} ({each}).")
    add("")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="per workload (default 10)")
    parser.add_argument(
        "--window",
        type=int,
        default=10,
        help="seconds per wrk run, at most a tenth of the run (default 10)",
    )
    parser.add_argument("--connections", type=int, default=64, help="wrk -c (default 64)")
    parser.add_argument(
        "--workloads",
        type=lambda s: s.split(","),
        default=list(WORKLOADS),
        help="default w1_greeter,w2_batch",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=BENCH / "results-soak.md",
        help="written after a full-length run, or whenever given",
    )
    args = parser.parse_args()
    if unknown := [w for w in args.workloads if w not in WORKLOADS]:
        parser.error(f"unknown workloads {unknown}; choose from {', '.join(WORKLOADS)}")
    if args.minutes <= 0:
        parser.error("--minutes must be positive")
    write = args.minutes >= 10 or "--out" in sys.argv
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` stops the server
    if not run.OURS_PY.exists():
        raise SystemExit(
            f"{run.OURS_PY} is missing: create .venv with pip install -e '.[dev]' first"
        )
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install -y wrk")

    started = time.monotonic()
    facts = run.machine()
    info = run_http.server_info(run_http.Server("ours", run.OURS_PY, "ours", ""))
    payloads = load_payloads()
    manifest = json.loads((payload_dir() / "manifest.json").read_text())
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="statefun-soak-") as tmp:
        for w in args.workloads:
            path = (payload_dir() / manifest["workloads"][w]["file"]).resolve()
            if path.read_bytes() != payloads[w]:
                raise SystemExit(f"{path} is not the manifest's {w}")
            script = Path(tmp) / f"{w}.lua"
            script.write_text(run_http.LUA.format(path=str(path).replace("\\", "\\\\"), extra=""))
            outcomes.append(soak(w, script, args))
    setting = Setting(
        command=" ".join(["python bench/soak.py", *sys.argv[1:]]),
        minutes=args.minutes,
        connections=args.connections,
        facts=facts,
        server=info,
        wrk=run_http.wrk_version(),
        load_end=" ".join(f"{x:.2f}" for x in os.getloadavg()),
        elapsed_s=time.monotonic() - started,
        date=dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
    )
    text = report(outcomes, setting)
    sys.stdout.write(text + "\n")
    if write:
        args.out.write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)
    sys.exit(EXIT[overall(outcomes)])


if __name__ == "__main__":
    main()
