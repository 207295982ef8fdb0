"""The arithmetic of the HTTP, growth and memory benchmarks: no I/O, no timing, stdlib only.

run_http.py, growth.py and memory.py gather numbers and hand them here;
tests/wire/test_bench_analysis.py checks every function on made-up numbers.
Also importable as ``bench.analysis`` from the checkout's root (the tests do).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

# /proc ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcStat:
    """The fields of one ``/proc/PID/stat`` line that CPU accounting needs."""

    pid: int
    ppid: int
    ticks: int  # utime + stime, in clock ticks (os.sysconf("SC_CLK_TCK") a second)


def parse_proc_stat(line: str) -> ProcStat:
    """Parse ``/proc/PID/stat``; the command name may hold spaces and parentheses.

    >>> parse_proc_stat("42 (a (b) c) S 7 42 42 0 -1 0 0 0 0 0 30 12 0 0 20 0 1 0")
    ProcStat(pid=42, ppid=7, ticks=42)
    """
    pid_text, _, _ = line.partition(" (")
    rest = line[line.rindex(")") + 2 :].split()
    # rest[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
    return ProcStat(int(pid_text), int(rest[1]), int(rest[11]) + int(rest[12]))


def tree_ticks(stats: Iterable[ProcStat], root: int) -> int:
    """CPU ticks of ``root`` and every live descendant (granian's workers are child processes).

    A process's own line already counts its threads, exited ones included.
    """
    by_parent: dict[int, list[ProcStat]] = {}
    own = 0
    for s in stats:
        by_parent.setdefault(s.ppid, []).append(s)
        if s.pid == root:
            own = s.ticks
    total, todo = own, [root]
    while todo:
        for child in by_parent.get(todo.pop(), []):
            if child.pid != root:
                total += child.ticks
                todo.append(child.pid)
    return total


def vmrss_kib(status: str) -> int:
    """``VmRSS`` of a ``/proc/PID/status`` text, in KiB.

    >>> vmrss_kib("Name:\\tpython\\nVmRSS:\\t  51200 kB\\n")
    51200
    """
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise ValueError("no VmRSS line (a kernel thread, or a process that has exited)")


# Ratios over interleaved rounds -----------------------------------------------------------


@dataclass(frozen=True)
class Spread:
    """The median of per-round values, and their smallest and largest."""

    median: float
    low: float
    high: float

    def text(self, digits: int = 2) -> str:
        if self.low == self.high:
            return f"{self.median:.{digits}f}"
        return f"{self.median:.{digits}f} ({self.low:.{digits}f}–{self.high:.{digits}f})"


def spread(values: Sequence[float]) -> Spread:
    if not values:
        raise ValueError("no values")
    return Spread(statistics.median(values), min(values), max(values))


def round_ratios(numerators: Sequence[float], denominators: Sequence[float]) -> Spread:
    """Each round's ``numerator / denominator``, same round with same round, summarised."""
    if len(numerators) != len(denominators):
        raise ValueError(f"{len(numerators)} rounds against {len(denominators)}")
    return spread([a / b for a, b in zip(numerators, denominators, strict=True)])


def cpu_us_per_request(cpu_seconds: float, requests: int) -> float:
    """Server CPU time over a load run divided by the requests wrk counted, in µs."""
    if requests <= 0:
        raise ValueError("no requests were answered")
    return cpu_seconds * 1e6 / requests


def fastest(cost: Mapping[str, float]) -> str:
    """The label with the smallest cost (the first such label on a tie)."""
    if not cost:
        raise ValueError("no contestants")
    return min(cost, key=lambda label: cost[label])


# Growth -----------------------------------------------------------------------------------


def loglog_slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of log y against log x: 1 for linear growth, 0 for flat.

    >>> round(loglog_slope([1, 10, 100], [3, 30, 300]), 6)
    1.0
    """
    if len(xs) != len(ys) or len(xs) < 2:
        raise ValueError("need two or more (x, y) pairs")
    lx = [math.log(x) for x in xs]
    ly = [math.log(y) for y in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    sxx = sum((x - mx) ** 2 for x in lx)
    if sxx == 0:
        raise ValueError("every x is the same")
    return sum((x - mx) * (y - my) for x, y in zip(lx, ly, strict=True)) / sxx


@dataclass(frozen=True)
class Verdict:
    """A claim, whether the numbers bear it out, and the figure that says so."""

    claim: str
    holds: bool
    detail: str

    def text(self) -> str:
        return f"{'holds' if self.holds else 'does not hold'}: {self.claim} ({self.detail})"


def batch_claim(ratio_by_batch: Mapping[int, float], from_batch: int, limit: float) -> Verdict:
    """Ours ÷ floor per invocation at every batch of ``from_batch`` or more is at most ``limit``."""
    big = {b: r for b, r in ratio_by_batch.items() if b >= from_batch}
    if not big:
        raise ValueError(f"no batch of {from_batch} or more was measured")
    worst = max(big, key=lambda b: big[b])
    return Verdict(
        f"at batches ≥ {from_batch:,} ours ≤ {limit:g}× the floor per invocation",
        big[worst] <= limit,
        ", ".join(f"{b:,}: {r:.2f}×" for b, r in sorted(big.items())),
    )


def linear_claim(cost_by_size: Mapping[int, float], tolerance: float = 1.5) -> Verdict:
    """Cost is linear in state size: a fixed part plus the same cost per byte at every size.

    The cost per added byte between each pair of neighbouring sizes (the
    marginal cost) must agree within ``tolerance``× from the smallest to the
    largest; cost that grew faster than the size (decoding per message, a
    quadratic copy) would make the later marginal costs larger. Needs three
    sizes or more: two give one marginal cost, nothing to compare.
    """
    sizes = sorted(cost_by_size)
    if len(sizes) < 3:
        raise ValueError("need three sizes or more")
    marginal = [
        (cost_by_size[b] - cost_by_size[a]) / (b - a)
        for a, b in zip(sizes, sizes[1:], strict=False)
    ]
    spread_ = max(marginal) / min(marginal) if min(marginal) > 0 else math.inf
    top = loglog_slope([float(sizes[-2]), float(sizes[-1])], [cost_by_size[s] for s in sizes[-2:]])
    per_kib = ", ".join(f"{m * 1024:.3g}" for m in marginal)
    return Verdict(
        f"cost linear in state size (the cost per added KiB within {tolerance:g}× across sizes)",
        spread_ <= tolerance,
        f"per added KiB: {per_kib} (×{spread_:.2f}); log-log slope {top:.2f} at the top",
    )


def marginal_costs(cost_by_size: Mapping[int, float]) -> list[float]:
    """The cost per added byte between each pair of neighbouring sizes, smallest first."""
    sizes = sorted(cost_by_size)
    return [
        (cost_by_size[b] - cost_by_size[a]) / (b - a)
        for a, b in zip(sizes, sizes[1:], strict=False)
    ]


def like_floor_claim(
    ours: Mapping[int, float], floor: Mapping[int, float], limit: float = 1.5
) -> Verdict:
    """Ours' cost grows with state size as the floor's does, which decodes and encodes once.

    At every step between neighbouring sizes, ours' cost per added byte is at
    most ``limit``× the floor's: no work of ours grows with the size beyond the
    one decode and one encode the floor does too (so ours is as linear as JSON
    itself is on this machine, whatever the memory hierarchy makes of 1 MiB).
    """
    if sorted(ours) != sorted(floor) or len(ours) < 2:
        raise ValueError("need the same two sizes or more for both")
    steps = [a / b for a, b in zip(marginal_costs(ours), marginal_costs(floor), strict=True)]
    return Verdict(
        f"cost linear in state size as the floor's is: per added KiB ≤ {limit:g}× the floor's",
        max(steps) <= limit,
        "ours ÷ floor per added KiB " + ", ".join(f"{r:.2f}" for r in steps),
    )


def decode_once_claim(one: float, many: float, messages: int, limit: float = 2.0) -> Verdict:
    """A batch of ``messages`` on a big state costs < ``limit``× one message on it.

    Decoding and encoding the state once per batch, the extra messages add only
    their own small cost; decoding it per message would multiply the cost by
    about ``messages``.
    """
    ratio = many / one
    return Verdict(
        f"state decoded and encoded once per batch ({messages} messages < {limit:g}× one)",
        ratio < limit,
        f"{messages} messages cost {ratio:.2f}× one",
    )


# Memory -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Flatness:
    baseline_kib: int  # the first sample at or after the warm-up
    highest_kib: int  # the largest sample from then on
    last_kib: int

    @property
    def growth(self) -> float:
        """How far the largest sample lies above the baseline, as a fraction of it."""
        return self.highest_kib / self.baseline_kib - 1

    def within(self, fraction: float) -> bool:
        return self.growth <= fraction


def flatness(samples: Sequence[tuple[int, int]], warmup_requests: int) -> Flatness:
    """RSS samples ``(requests served so far, VmRSS KiB)``, judged after the warm-up."""
    after = [(n, kib) for n, kib in samples if n >= warmup_requests]
    if not after:
        raise ValueError(f"no sample at or after {warmup_requests:,} requests")
    return Flatness(after[0][1], max(kib for _, kib in after), after[-1][1])


def mem_claim(ours: float, floor: float, limit: float = 2.0) -> Verdict:
    return Verdict(
        f"W2 memory per request ≤ {limit:g}× the floor's",
        ours <= limit * floor,
        f"{ours / floor:.2f}×",
    )
