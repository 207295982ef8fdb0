"""HTTP benchmark: our SDK's servers vs the official Python and Java SDKs vs an HTTP ceiling.

    python bench/run_http.py            # full run (~25 min), writes bench/results-http.md
    python bench/run_http.py --quick    # smoke check (~45 s), writes nothing unless --out

(Not ``bench/http.py``: with bench/ first on sys.path that name would shadow the
standard library's ``http`` package, which aiohttp and urllib import.)

Each server is its own process (bench/http_server.py says how each is started)
on 127.0.0.1, **pinned to one core** with taskset, wrk pinned to another; each
one's four answers are checked against CONTRACT.md over HTTP before any load.
Then, for every workload and connection count, the servers take turns under
the same wrk command (``-t1``, POST of the payload file's bytes to /statefun,
``--latency``), back to back, and each later round reverses the order, so the
machine's noise hits them alike. Around every wrk run the server's CPU time
(utime + stime of its process and any child processes, from /proc) is read,
so each point has **CPU µs per request** beside requests/s: on one core, what
a request costs the server whether or not wrk could keep it busy. Ratios are
computed per round and the median is reported. Every server started is stopped
at the end (by PID), whatever happens. Standard library only: run it with any
Python 3.10+.

Servers:

  java          the official Java SDK 3.3.0 on Undertow (bench/java/, built on first use)
  ours          ``statefun serve app_ours:functions``: the CLI, its defaults (aiohttp)
  ours-access-log  the same with --access-log, a line per request (not in the default set)
  ours-metrics  the same with --metrics (not in the default set: --contestants)
  ours-tracing  the same with --tracing, spans recorded and not exported (likewise)
  ours-uvloop   ``statefun serve --loop uvloop``
  ours-uvicorn  ``statefun serve --server uvicorn --loop uvloop`` (httptools parses)
  ours-workers2, ours-uvicorn-workers2   the two with --workers 2 (not in the default set:
                on one pinned core two workers only take turns; run them with --no-pin)
  asgi-uvicorn  statefun.asgi.make_asgi_app under uvicorn's own CLI (httptools, uvloop;
                not in the default set)
  ours-granian  the same ASGI app under granian
  ours-aiohttp  statefun.aiohttp.make_app in a bare AppRunner, access log off
  official      apache-flink-statefun 3.3.0's handle_async in aiohttp,
                bench/.venv-official (protobuf 3.20.3, pure Python)
  official-upb  the same, bench/.venv-official-upb (protobuf forced to ours' version)
  ceiling       aiohttp answering precomputed bytes (project .venv): the most
                any aiohttp-served SDK could do on this machine
  ceiling-uvicorn  the same under uvicorn (httptools, uvloop): the most any
                uvicorn-served SDK could do
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
import analysis  # noqa: E402
import java_build  # noqa: E402
import run  # noqa: E402  (venv creation and machine facts, shared with the in-process bench)
from contract import WORKLOADS, load_payloads, payload_dir  # noqa: E402

LUA = """\
wrk.method = "POST"
wrk.path = "/statefun"
wrk.headers["Content-Type"] = "application/octet-stream"
local f = assert(io.open("{path}", "rb"))
wrk.body = f:read("*a")
f:close()
{extra}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT {{\\"requests\\": %d, \\"duration_us\\": %d, \\"p50_us\\": %d, \\"p90_us\\": %d, "
    .. "\\"p99_us\\": %d, \\"max_us\\": %d, \\"connect\\": %d, \\"read\\": %d, \\"write\\": %d, "
    .. "\\"status\\": %d, \\"timeout\\": %d}}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""

# A request-count bound for one wrk thread (memory.py). wrk's own thread:stop() leaves
# the main thread sleeping out -d, so once `limit` answers are in, the script prints
# the same RESULT line done() would (no latencies; duration 0: wrk() times the run)
# and exits wrk at once.
LUA_LIMIT = """\
local answered, bad = 0, 0
response = function(status, headers, body)
  answered = answered + 1
  if status ~= 200 then bad = bad + 1 end
  if answered >= {limit} then
    io.write(string.format(
      "RESULT {{\\"requests\\": %d, \\"duration_us\\": 0, \\"p50_us\\": 0, \\"p90_us\\": 0, "
      .. "\\"p99_us\\": 0, \\"max_us\\": 0, \\"connect\\": 0, \\"read\\": 0, \\"write\\": 0, "
      .. "\\"status\\": %d, \\"timeout\\": 0}}\\n",
      answered, bad))
    io.stdout:flush()
    os.exit(0)
  end
end
"""

PYTHON_LABELS = (
    "ours",
    "ours-uvloop",
    "ours-uvicorn",
    "asgi-uvicorn",
    "ours-granian",
    "ours-aiohttp",
    "official",
    "official-upb",
)
CLK_TCK = os.sysconf("SC_CLK_TCK")


def wrk_script(path: Path, limit: int | None = None) -> str:
    extra = LUA_LIMIT.format(limit=limit) if limit else ""
    return LUA.format(path=str(path).replace("\\", "\\\\"), extra=extra)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid`` and its live descendants, from /proc."""
    stats: list[analysis.ProcStat] = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stats.append(analysis.parse_proc_stat((entry / "stat").read_text()))
            except (OSError, ValueError, IndexError):
                pass  # gone meanwhile
    return analysis.tree_ticks(stats, pid) / CLK_TCK


def vmrss_kib(pid: int) -> int:
    return analysis.vmrss_kib(Path(f"/proc/{pid}/status").read_text())


def pin(cpu: int | None) -> list[str]:
    return ["taskset", "-c", str(cpu)] if cpu is not None else []


@dataclass
class Server:
    label: str
    python: Path
    kind: str
    about: str
    proc: subprocess.Popen[bytes] | None = None
    url: str = ""
    log: Path | None = None
    info: dict[str, Any] = field(default_factory=dict)
    # (workload, connections) -> one wrk result per round
    points: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)

    def start(self, cpu: int | None, logdir: Path) -> None:
        port = free_port()
        self.log = logdir / f"{self.label}.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [*pin(cpu), str(self.python), str(BENCH / "http_server.py"), self.kind, str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=str(BENCH),
                env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(BENCH)},
                start_new_session=True,  # our Ctrl-C does not reach it; we stop it ourselves
            )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except OSError:
                time.sleep(0.1)
                continue
            self.url = f"http://127.0.0.1:{port}/statefun"
            return
        raise SystemExit(f"{self.label}: server did not start:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        if self.log is None or not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def servers(labels: list[str]) -> list[Server]:
    ours_py = run.OURS_PY
    off, upb = run.venv_python(run.OFFICIAL_VENV), run.venv_python(run.OFFICIAL_UPB_VENV)
    every = {
        "java": Server("java", ours_py, "java", "official Java SDK 3.3.0 on Undertow"),
        "ours": Server("ours", ours_py, "ours", "`statefun serve` (aiohttp), its defaults"),
        "ours-metrics": Server(
            "ours-metrics", ours_py, "ours-metrics", "`statefun serve --metrics`"
        ),
        "ours-access-log": Server(
            "ours-access-log", ours_py, "ours-access-log", "`statefun serve --access-log`"
        ),
        "ours-tracing": Server(
            "ours-tracing",
            ours_py,
            "ours-tracing",
            "`statefun serve --tracing`, spans not exported",
        ),
        "ours-uvloop": Server(
            "ours-uvloop", ours_py, "ours-uvloop", "`statefun serve --loop uvloop`"
        ),
        "ours-uvicorn": Server(
            "ours-uvicorn",
            ours_py,
            "ours-uvicorn",
            "`statefun serve --server uvicorn --loop uvloop`",
        ),
        "ours-workers2": Server(
            "ours-workers2", ours_py, "ours-workers2", "`statefun serve --workers 2`"
        ),
        "ours-uvicorn-workers2": Server(
            "ours-uvicorn-workers2",
            ours_py,
            "ours-uvicorn-workers2",
            "`statefun serve --server uvicorn --loop uvloop --workers 2`",
        ),
        "asgi-uvicorn": Server(
            "asgi-uvicorn", ours_py, "asgi-uvicorn", "`make_asgi_app` under uvicorn's own CLI"
        ),
        "ours-granian": Server(
            "ours-granian", ours_py, "ours-granian", "`make_asgi_app` under granian"
        ),
        "ours-aiohttp": Server(
            "ours-aiohttp", ours_py, "ours-aiohttp", "`statefun.aiohttp.make_app`, no access log"
        ),
        "official": Server("official", off, "official", "3.3.0 `handle_async` in aiohttp"),
        "official-upb": Server(
            "official-upb", upb, "official", "the same, protobuf forced to ours' (upb)"
        ),
        "ceiling": Server("ceiling", ours_py, "ceiling", "aiohttp answering precomputed bytes"),
        "ceiling-uvicorn": Server(
            "ceiling-uvicorn", ours_py, "ceiling-uvicorn", "uvicorn answering precomputed bytes"
        ),
    }
    unknown = [x for x in labels if x not in every]
    if unknown:
        raise SystemExit(f"unknown contestants {unknown}; known: {', '.join(every)}")
    return [every[x] for x in labels]


def version_in(python: Path, module: str) -> str:
    out = subprocess.run(
        [str(python), "-c", f"import {module} as m; print(m.__version__)"],
        capture_output=True,
        text=True,
        cwd=str(BENCH),
    )
    return out.stdout.strip() if out.returncode == 0 else ""


def ensure_aiohttp(ss: list[Server]) -> str:
    """The official venvs come from bench/run.py without aiohttp: add ours' exact version."""
    want = version_in(run.OURS_PY, "aiohttp")
    if not want:
        raise SystemExit(f"aiohttp is missing from {run.OURS_PY}")
    for py in sorted({s.python for s in ss if s.python != run.OURS_PY}):
        if version_in(py, "aiohttp") != want:
            run.sh(str(py), "-m", "pip", "install", "-q", f"aiohttp=={want}")
    return want


def server_info(s: Server) -> dict[str, str]:
    if s.kind == "java":
        return {"runtime": java_build.java_version(), "protobuf": "shaded in the SDK jar"}
    server_module = {
        "ours-uvicorn": "uvicorn",
        "ours-uvicorn-workers2": "uvicorn",
        "asgi-uvicorn": "uvicorn",
        "ceiling-uvicorn": "uvicorn",
        "ours-granian": "granian",
    }.get(s.kind, "aiohttp")
    code = (
        "import platform, json, google.protobuf as p, importlib;"
        "from google.protobuf.internal import api_implementation as a;"
        f"m = importlib.import_module({server_module!r});"
        "print(json.dumps({'runtime': 'Python ' + platform.python_version(),"
        " 'protobuf': p.__version__ + ' ' + a.Type(),"
        f" 'server': {server_module!r} + ' ' + m.__version__}}))"
    )
    out = subprocess.run(
        [str(s.python), "-c", code], check=True, capture_output=True, text=True, cwd="/"
    )
    info: dict[str, str] = json.loads(out.stdout)
    return info


def verify(s: Server) -> None:
    out = subprocess.run(
        [str(run.OURS_PY), str(BENCH / "http_server.py"), "verify", s.url],
        capture_output=True,
        text=True,
        cwd=str(BENCH),
        env={**os.environ, "PYTHONPATH": str(BENCH)},
        timeout=60,
    )
    if out.returncode != 0 or out.stdout.strip() != "ok":
        raise SystemExit(
            f"{s.label}: answers do not match CONTRACT.md:\n{out.stderr}\n{s.log_tail()}"
        )


def wrk(
    url: str,
    script: Path,
    connections: int,
    seconds: float,
    threads: int,
    cpu: int | None,
    server_pid: int | None = None,
) -> dict[str, Any]:
    """One wrk run; with ``server_pid``, the server's CPU seconds over it too."""
    cmd = [
        *pin(cpu),
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "5s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    cpu0 = tree_cpu_seconds(server_pid) if server_pid else 0.0
    wall0 = time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    wall = time.monotonic() - wall0
    cpu1 = tree_cpu_seconds(server_pid) if server_pid else 0.0
    m = re.search(r"^RESULT (\{.*\})$", out.stdout, re.M)
    if out.returncode != 0 or not m:
        raise SystemExit(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    result: dict[str, Any] = json.loads(m.group(1))
    result["duration_us"] = result["duration_us"] or int(wall * 1e6)  # a count-bounded run
    bad = {k: result[k] for k in ("connect", "read", "write", "status", "timeout") if result[k]}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out.stdout)
    if bad or non2xx:
        raise SystemExit(f"wrk saw errors against {url}: {bad} {non2xx and non2xx.group(0)}")
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    if server_pid:
        result["cpu_s"] = cpu1 - cpu0
        result["cpu_us"] = analysis.cpu_us_per_request(cpu1 - cpu0, result["requests"])
        result["busy"] = (cpu1 - cpu0) / (result["duration_us"] / 1e6)
    return result


def wrk_version() -> str:
    out = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    return (out.stdout + out.stderr).splitlines()[0].strip()


def fmt_ms(us: float) -> str:
    return f"{us / 1000:.2f}" if us < 10_000 else f"{us / 1000:.1f}"


def fmt_us(us: float) -> str:
    return f"{us:,.1f}" if us < 100 else f"{us:,.0f}"


def med(s: Server, key: tuple[str, int], what: str) -> float:
    return analysis.spread([p[what] for p in s.points[key]]).median


def per_round(a: Server, b: Server, key: tuple[str, int], what: str) -> analysis.Spread:
    return analysis.round_ratios([p[what] for p in a.points[key]], [p[what] for p in b.points[key]])


def fastest_python(ss: list[Server], key: tuple[str, int]) -> Server | None:
    py = {s.label: med(s, key, "cpu_us") for s in ss if s.label in PYTHON_LABELS}
    if not py:
        return None
    label = analysis.fastest(py)
    return next(s for s in ss if s.label == label)


def report(
    ss: list[Server],
    args: argparse.Namespace,
    facts: dict[str, str],
    load_end: str,
    elapsed: float,
    wrk_v: str,
) -> str:
    by = {s.label: s for s in ss}
    java = by.get("java")
    rows: list[str] = []
    add = rows.append
    add("# Benchmark results: over HTTP")
    add("")
    cmd = " ".join(["python bench/run_http.py", *sys.argv[1:]])
    add(
        f"Date: {dt.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}. Command: `{cmd}` "
        f"({args.rounds} round{'s' if args.rounds > 1 else ''}, {args.duration:g} s per point after "
        f"{args.warmup:g} s warm-up per server and workload; {elapsed:.0f} s in all)."
        + (
            " **No warm-up: the JVM is still compiling, so java's figures are not its steady state.**"
            if args.warmup == 0 and java
            else ""
        )
    )
    add("")
    pinned = (
        f"each server pinned to CPU {args.server_cpu} and wrk to CPU {args.wrk_cpu} (`taskset -c`)"
        if args.pin
        else "nothing pinned"
    )
    add(
        f"Machine: {facts['nproc']} CPUs (`nproc`), {facts['cpu']}, Linux {facts['kernel']}; load average "
        f"{facts['loadavg']} at start, {load_end} at end; {pinned}. The machine is shared with other "
        "work: read the ratios of the same run, not absolute numbers."
    )
    add("")
    add(
        f"Load: `{wrk_v}`, `wrk -t{args.threads} -c<{'|'.join(map(str, args.connections))}> "
        f"-d{args.duration:g}s --timeout 5s --latency -s post.lua http://127.0.0.1:<port>/statefun`, "
        "the script POSTing the payload file's bytes with `Content-Type: application/octet-stream` over "
        "keep-alive connections (closed loop: p50/p99 are wrk's, without coordinated-omission "
        "correction). Every run had zero socket errors and zero non-2xx answers (checked), and every "
        "server's four answers were decoded and checked against CONTRACT.md over HTTP before loading."
    )
    add("")
    add(
        "**CPU µs/request** is the server's CPU time (utime + stime of its process, all its threads, "
        "and any child processes: granian's worker, the JVM's JIT and GC threads) over the wrk run, "
        "divided by the requests wrk counted. *busy* is that CPU time over the run's wall time: near "
        "100 % the server was the bottleneck; well below, wrk on its one core was, and requests/s "
        "says more about wrk than about the server, while CPU µs/request still holds."
    )
    add("")
    add("| server | what | runtime | protobuf | HTTP server |")
    add("|---|---|---|---|---|")
    for s in ss:
        i = s.info
        server = i.get("server") or (
            "Undertow (bench/java/pom.xml)" if s.kind == "java" else "aiohttp"
        )
        add(f"| {s.label} | {s.about} | {i['runtime']} | {i['protobuf']} | {server} |")
    add("")
    for w in WORKLOADS:
        add(f"## {w}")
        add("")
        head = "| connections | server | requests/s | p50 ms | p99 ms | CPU µs/request | busy |"
        rule = "|---:|---|---:|---:|---:|---:|---:|"
        if java:
            head += " CPU/request ÷ java |"
            rule += "---:|"
        add(head)
        add(rule)
        for c in args.connections:
            key = (w, c)
            for s in ss:
                row = (
                    f"| {c} | {s.label} | {med(s, key, 'rps'):,.0f} | "
                    f"{fmt_ms(med(s, key, 'p50_us'))} | {fmt_ms(med(s, key, 'p99_us'))} | "
                    f"{fmt_us(med(s, key, 'cpu_us'))} | {med(s, key, 'busy'):.0%} |"
                )
                if java:
                    row += " 1 |" if s is java else f" {per_round(s, java, key, 'cpu_us').text()} |"
                add(row)
        add("")
    for what, title, fmt in (
        ("cpu_us", "CPU µs per request (median over rounds)", fmt_us),
        ("rps", "Requests per second (median over rounds)", lambda x: f"{x:,.0f}"),
    ):
        add(f"## {title}")
        add("")
        add("| workload | connections | " + " | ".join(s.label for s in ss) + " |")
        add("|---|---:|" + "---:|" * len(ss))
        for w in WORKLOADS:
            for c in args.connections:
                add(f"| {w} | {c} | " + " | ".join(fmt(med(s, (w, c), what)) for s in ss) + " |")
        add("")
    if java:
        add("## The fastest Python option against the Java SDK")
        add("")
        add(
            "Per workload and connection count, the Python server with the least CPU per request, "
            "and the median of per-round ratios against `java` (range over rounds in brackets). "
            "The target is within 3× on CPU per request."
        )
        add("")
        ceiling = by.get("ceiling-uvicorn")
        if ceiling:
            add(
                "*uvicorn alone ÷ java*: `ceiling-uvicorn` (uvicorn answering precomputed bytes, no "
                "SDK work) against `java`, the least any SDK served by uvicorn could reach here."
            )
            add("")
        add(
            "| workload | connections | fastest Python | its CPU µs/request | java CPU µs/request | "
            "CPU ÷ java | java requests/s ÷ its | within 3× |"
            + (" uvicorn alone ÷ java |" if ceiling else "")
        )
        add("|---|---:|---|---:|---:|---:|---:|---|" + ("---:|" if ceiling else ""))
        for w in WORKLOADS:
            for c in args.connections:
                key = (w, c)
                best = fastest_python(ss, key)
                if best is None:
                    continue
                cpu = per_round(best, java, key, "cpu_us")
                add(
                    f"| {w} | {c} | {best.label} | {fmt_us(med(best, key, 'cpu_us'))} | "
                    f"{fmt_us(med(java, key, 'cpu_us'))} | {cpu.text()} | "
                    f"{per_round(java, best, key, 'rps').text()} | "
                    f"{'yes' if cpu.median <= 3 else 'no'} |"
                    + (f" {per_round(ceiling, java, key, 'cpu_us').text()} |" if ceiling else "")
                )
        add("")
    if "ours" in by:
        ours = by["ours"]
        others = [s for s in ss if s is not ours]
        add("## Requests/s of ours (`statefun serve`) against the others")
        add("")
        add("| workload | connections | " + " | ".join(f"ours ÷ {s.label}" for s in others) + " |")
        add("|---|---:|" + "---:|" * len(others))
        for w in WORKLOADS:
            for c in args.connections:
                add(
                    f"| {w} | {c} | "
                    + " | ".join(per_round(ours, s, (w, c), "rps").text() for s in others)
                    + " |"
                )
        add("")
    add(
        f"Order of servers per point: round 1 {', '.join(s.label for s in ss)}; later rounds "
        "alternate reversed and forward. `ours` is `statefun serve` exactly as the CLI starts it "
        "(no access log, its default); `ours-aiohttp` is `statefun.aiohttp.make_app` alone, "
        "without what `statefun serve` adds (the drain's in-flight tracking and the probes)."
    )
    add("")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smoke check, ~45 s")
    parser.add_argument("--duration", type=float, help="seconds per point (default 10, quick 1)")
    parser.add_argument(
        "--rounds", type=int, help="rounds, order reversed each (default 2, quick 1)"
    )
    parser.add_argument(
        "--warmup", type=float, help="warm-up seconds per server and workload (default 3, quick 0)"
    )
    parser.add_argument("--threads", type=int, default=1, choices=(1, 2), help="wrk -t (default 1)")
    parser.add_argument(
        "--connections",
        type=lambda s: [int(x) for x in s.split(",")],
        help="comma-separated (default 16,64; quick 16)",
    )
    parser.add_argument(
        "--contestants",
        type=lambda s: s.split(","),
        help="comma-separated labels (default: all; quick: all but official-upb)",
    )
    parser.add_argument(
        "--no-upb",
        dest="upb",
        action="store_false",
        default=None,
        help="skip official-upb (default: skipped with --quick, included otherwise)",
    )
    parser.add_argument("--no-java", dest="java", action="store_false", help="skip the Java SDK")
    parser.add_argument("--no-pin", dest="pin", action="store_false", help="pin nothing")
    parser.add_argument("--server-cpu", type=int, help="CPU for servers (default: the last)")
    parser.add_argument("--wrk-cpu", type=int, default=0, help="CPU for wrk (default 0)")
    parser.add_argument("--out", type=Path, default=BENCH / "results-http.md")
    args = parser.parse_args()
    out_given = "--out" in sys.argv
    args.duration = args.duration or (1 if args.quick else 10)
    args.rounds = args.rounds or (1 if args.quick else 2)
    args.warmup = args.warmup if args.warmup is not None else (0 if args.quick else 3)
    args.connections = args.connections or ([16] if args.quick else [16, 64])
    if args.upb is None:
        args.upb = not args.quick
    if args.server_cpu is None:
        args.server_cpu = (os.cpu_count() or 1) - 1
    server_cpu = args.server_cpu if args.pin else None
    wrk_cpu = args.wrk_cpu if args.pin else None
    labels: list[str] = args.contestants or [
        "java",
        "ours",
        "ours-uvloop",
        "ours-uvicorn",
        "ours-granian",
        "ours-aiohttp",
        "official",
        "official-upb",
        "ceiling",
        "ceiling-uvicorn",
    ]
    if not args.upb:
        labels = [x for x in labels if x != "official-upb"]
    if not args.java:
        labels = [x for x in labels if x != "java"]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` stops the servers

    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    if args.pin and not shutil.which("taskset"):
        raise SystemExit("taskset is missing (util-linux), or run with --no-pin")
    started = time.monotonic()
    facts = run.machine()
    run.ensure_venvs("official-upb" in labels)
    if "java" in labels:
        java_build.ensure_jar()
    ss = servers(labels)
    ensure_aiohttp(ss)
    for s in ss:
        s.info = server_info(s)
    payloads = load_payloads()
    tmp = Path(tempfile.mkdtemp(prefix="statefun-http-bench-"))
    scripts: dict[str, Path] = {}
    manifest = json.loads((payload_dir() / "manifest.json").read_text())
    for w in WORKLOADS:
        path = (payload_dir() / manifest["workloads"][w]["file"]).resolve()
        if path.read_bytes() != payloads[w]:
            raise SystemExit(f"{path} is not the manifest's {w}")
        scripts[w] = tmp / f"{w}.lua"
        scripts[w].write_text(wrk_script(path))
    try:
        for s in ss:
            s.start(server_cpu, tmp)
            verify(s)
            print(f"verified {s.label} at {s.url} (pid {s.pid})", file=sys.stderr)
        npoints = len(WORKLOADS) * len(args.connections) * len(ss) * args.rounds
        done = 0
        for w in WORKLOADS:
            if args.warmup > 0:
                for s in ss:
                    wrk(
                        s.url, scripts[w], max(args.connections), args.warmup, args.threads, wrk_cpu
                    )
            for c in args.connections:
                for r in range(args.rounds):
                    order = ss if r % 2 == 0 else ss[::-1]
                    for s in order:
                        p = wrk(s.url, scripts[w], c, args.duration, args.threads, wrk_cpu, s.pid)
                        s.points.setdefault((w, c), []).append(p)
                        done += 1
                        print(
                            f"  [{done}/{npoints}] {w} c={c} round {r + 1} {s.label}: "
                            f"{p['rps']:,.0f} req/s, {p['cpu_us']:.1f} CPU µs/req "
                            f"({p['busy']:.0%} busy), p50 {p['p50_us'] / 1000:.2f} ms, "
                            f"p99 {p['p99_us'] / 1000:.2f} ms",
                            file=sys.stderr,
                        )
        load_end = " ".join(f"{x:.2f}" for x in os.getloadavg())
    finally:
        for s in ss:
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    text = report(ss, args, facts, load_end, time.monotonic() - started, wrk_version())
    sys.stdout.write(text + "\n")
    if not args.quick or out_given:
        args.out.write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
