"""A long-lived benchmark worker: one contestant, one venv, driven over stdin/stdout.

    <venv>/bin/python bench/worker.py impl_ours

reads one JSON command per line on stdin and answers one JSON line on stdout
(the real stdout; anything the contestant prints goes to stderr). Commands:
``info``, ``verify``, ``run`` (time ``n`` requests of one workload, one
perf_counter_ns pair per request), ``growth`` (the same for a request
growth_payloads.py builds: ``messages`` invocations, a profile of ``state_bytes``;
its answer is checked the first time), ``mem`` (tracemalloc peak of one request),
``quit``. Standard library only: it runs in every venv.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import platform
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable, Coroutine
from typing import Any, TextIO

import contract


def drive(coroutine: Coroutine[Any, Any, bytes]) -> bytes:
    """Run a request coroutine to its end without an event loop.

    Both SDKs' handlers are coroutines that never wait on I/O for these plain-def
    functions; a bare ``yield`` (ours gives the loop a turn in long batches) is
    resumed at once. The same driver runs both, so neither pays for asyncio.
    """
    try:
        while True:
            if coroutine.send(None) is not None:
                coroutine.close()
                raise RuntimeError("the handler awaited something that needs a real event loop")
    except StopIteration as done:
        result: bytes = done.value
        return result


def info(module: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "contestant": module.NAME,
        "python": platform.python_version(),
        "executable": sys.executable,
        "prefix": sys.prefix,
    }
    try:
        import google.protobuf
        from google.protobuf.internal import api_implementation

        out["protobuf"] = google.protobuf.__version__
        out["protobuf_impl"] = api_implementation.Type()
    except ImportError:
        pass
    try:
        import msgspec

        out["msgspec"] = msgspec.__version__
    except ImportError:
        out["msgspec"] = None
    try:
        from importlib.metadata import version

        out["apache-flink-statefun"] = version("apache-flink-statefun")
    except Exception:
        out["apache-flink-statefun"] = None
    statefun = sys.modules.get("statefun")
    out["statefun_path"] = getattr(statefun, "__file__", None)
    if hasattr(module, "JSON"):
        out["json"] = module.JSON
    return out


def time_calls(call: Callable[[bytes], bytes], body: bytes, n: int) -> list[int]:
    """``n`` requests of ``body``, one perf_counter_ns pair each, after a full collection."""
    samples = [0] * n
    clock = time.perf_counter_ns
    gc.collect()
    for i in range(n):
        t0 = clock()
        call(body)
        samples[i] = clock() - t0
    return samples


def upb_arena_bytes(request: bytes, answer: bytes, copies: int = 200) -> int | None:
    """malloc'd bytes of one parsed request and one answer message, on upb protobuf.

    upb keeps a message in an arena it mallocs outside the Python heap, where
    tracemalloc does not look: held ``copies`` times, glibc's ``mallinfo2``
    shows what each costs. None where protobuf is pure Python (everything is on
    the Python heap, tracemalloc already counts it) or mallinfo2 is missing.
    """
    import ctypes

    from google.protobuf.internal import api_implementation

    if api_implementation.Type() != "upb":
        return None

    class MallInfo2(ctypes.Structure):
        _fields_ = [
            (name, ctypes.c_size_t)
            for name in (
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"
            ).split()
        ]

    try:
        mallinfo2 = ctypes.CDLL("libc.so.6").mallinfo2
    except (OSError, AttributeError):
        return None
    mallinfo2.restype = MallInfo2

    def used() -> int:
        info = mallinfo2()
        return int(info.uordblks + info.hblkhd)

    pb = contract.generated()
    gc.collect()
    before = used()
    held = [
        (pb.rr.ToFunction.FromString(request), pb.rr.FromFunction.FromString(answer))
        for _ in range(copies)
    ]
    after = used()
    del held
    return (after - before) // copies


def main() -> None:
    module = importlib.import_module(sys.argv[1])
    call: Callable[[bytes], bytes] = module.setup(drive)
    payloads = contract.load_payloads()
    grown: dict[tuple[int, int | None], bytes] = {}
    out: TextIO = sys.stdout
    sys.stdout = sys.stderr  # keep the protocol channel clean
    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd["op"]
        reply: dict[str, Any]
        try:
            if op == "info":
                reply = info(module)
            elif op == "verify":
                for name, body in payloads.items():
                    first = call(body)
                    contract.check(name, body, first)
                    contract.check(name, body, call(body))  # stateless: same answer again
                reply = {"ok": True}
            elif op == "run":
                reply = {"ns": time_calls(call, payloads[cmd["w"]], int(cmd["n"]))}
            elif op == "growth":
                import growth_payloads

                key = (int(cmd["messages"]), cmd.get("state_bytes"))
                if key not in grown:
                    body = growth_payloads.request(*key)
                    growth_payloads.check(call(body), *key)
                    grown[key] = body
                reply = {
                    "ns": time_calls(call, grown[key], int(cmd["n"])),
                    "bytes": len(grown[key]),
                }
            elif op == "mem":
                body = payloads[cmd["w"]]
                for _ in range(20):
                    call(body)
                rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                for _ in range(int(cmd.get("loop", 2000))):
                    call(body)
                rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                peaks = []
                gc.collect()
                for _ in range(int(cmd.get("reps", 5))):
                    tracemalloc.start()
                    tracemalloc.reset_peak()
                    base = tracemalloc.get_traced_memory()[0]
                    call(body)
                    peaks.append(tracemalloc.get_traced_memory()[1] - base)
                    tracemalloc.stop()
                reply = {
                    "tracemalloc_peak": min(peaks),
                    "rss_delta_kib": rss1 - rss0,
                    "arena_bytes": upb_arena_bytes(body, call(body)),
                }
            elif op == "quit":
                break
            else:
                reply = {"error": f"unknown op {op}"}
        except Exception as exc:  # report, and let the runner fail loudly
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
