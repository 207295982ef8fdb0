"""The benchmarks' arithmetic (bench/analysis.py) and the growth requests, without timing.

bench/run_http.py, bench/growth.py and bench/memory.py measure; what they
conclude from the numbers is here, checked on numbers made up for the purpose.
The growth requests (bench/growth_payloads.py) are checked through the worker,
as the benchmark runs them: built in the worker's venv, answered, verified.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))  # bench/ is scripts, not a package: its modules import each other
import analysis  # noqa: E402

# /proc ------------------------------------------------------------------------------------


def test_proc_stat_reads_pid_ppid_and_cpu_ticks() -> None:
    line = "4242 (python3) S 17 4242 4242 0 -1 4194560 900 0 0 0 1234 56 0 0 20 0 3 0 99"
    assert analysis.parse_proc_stat(line) == analysis.ProcStat(4242, 17, 1290)


def test_proc_stat_command_names_with_spaces_and_parentheses() -> None:
    line = "9 (tokio-rt (worker) 1) R 8 9 9 0 -1 0 0 0 0 0 5 5 0 0 20 0 1 0 7"
    assert analysis.parse_proc_stat(line) == analysis.ProcStat(9, 8, 10)


def test_tree_ticks_adds_every_descendant_and_nothing_else() -> None:
    stats = [
        analysis.ProcStat(1, 0, 1000),  # init: not ours
        analysis.ProcStat(100, 1, 10),  # granian's main process
        analysis.ProcStat(101, 100, 200),  # its worker
        analysis.ProcStat(102, 101, 5),  # a grandchild
        analysis.ProcStat(200, 1, 300),  # a stranger
    ]
    assert analysis.tree_ticks(stats, 100) == 215
    assert analysis.tree_ticks(stats, 101) == 205
    assert analysis.tree_ticks(stats, 999) == 0  # gone: nothing counted


def test_vmrss_in_kib() -> None:
    status = "Name:\tjava\nVmPeak:\t 900000 kB\nVmRSS:\t  123456 kB\nThreads:\t20\n"
    assert analysis.vmrss_kib(status) == 123456
    with pytest.raises(ValueError, match="no VmRSS"):
        analysis.vmrss_kib("Name:\tkthreadd\n")


# Ratios -----------------------------------------------------------------------------------


def test_round_ratios_pair_each_round_with_its_own() -> None:
    got = analysis.round_ratios([10.0, 30.0, 20.0], [5.0, 10.0, 20.0])
    assert got == analysis.Spread(2.0, 1.0, 3.0)
    assert got.text() == "2.00 (1.00–3.00)"
    assert analysis.round_ratios([3.0], [2.0]).text() == "1.50"
    with pytest.raises(ValueError, match="2 rounds against 1"):
        analysis.round_ratios([1.0, 2.0], [1.0])


def test_cpu_per_request() -> None:
    assert analysis.cpu_us_per_request(2.5, 100_000) == pytest.approx(25.0)
    with pytest.raises(ValueError):
        analysis.cpu_us_per_request(1.0, 0)


def test_fastest_is_the_least_cost() -> None:
    assert analysis.fastest({"ours": 90.0, "ours-uvicorn": 60.0, "official": 250.0}) == (
        "ours-uvicorn"
    )
    with pytest.raises(ValueError):
        analysis.fastest({})


# Growth -----------------------------------------------------------------------------------


def test_loglog_slope() -> None:
    sizes = [1024.0, 102_400.0, 1_048_576.0]
    assert analysis.loglog_slope(sizes, [s * 3 for s in sizes]) == pytest.approx(1.0)
    assert analysis.loglog_slope(sizes, [7.0, 7.0, 7.0]) == pytest.approx(0.0)
    assert analysis.loglog_slope(sizes, [s * s for s in sizes]) == pytest.approx(2.0)
    with pytest.raises(ValueError):
        analysis.loglog_slope([5.0, 5.0], [1.0, 2.0])


def test_batch_claim_looks_at_big_batches_only() -> None:
    ratios = {1: 5.0, 100: 3.9, 1000: 1.8, 10_000: 1.7}
    verdict = analysis.batch_claim(ratios, 1000, 2.0)
    assert verdict.holds
    assert verdict.detail == "1,000: 1.80×, 10,000: 1.70×"
    assert not analysis.batch_claim({**ratios, 10_000: 2.1}, 1000, 2.0).holds
    with pytest.raises(ValueError):
        analysis.batch_claim({1: 1.0}, 1000, 2.0)


def test_linear_claim_allows_a_fixed_cost_and_nothing_faster_than_the_size() -> None:
    sizes = (1024, 102_400, 1_048_576)
    # 50 µs of fixed cost, then 1 µs per KiB: linear, though its log-log slope starts low.
    verdict = analysis.linear_claim({s: 50.0 + s / 1024 for s in sizes})
    assert verdict.holds, verdict.detail
    assert verdict.detail.startswith("per added KiB: 1, 1 (×1.00)")
    assert not analysis.linear_claim({s: (s / 1024) ** 2 for s in sizes}).holds
    with pytest.raises(ValueError, match="three sizes"):
        analysis.linear_claim({1024: 1.0, 2048: 2.0})


def test_like_floor_claim_compares_the_cost_per_added_byte() -> None:
    sizes = (1024, 102_400, 1_048_576)
    floor = {s: 10.0 + s / 1024 for s in sizes}
    same_slope = {s: 30.0 + 1.2 * s / 1024 for s in sizes}  # more fixed cost, 1.2× per byte
    verdict = analysis.like_floor_claim(same_slope, floor)
    assert verdict.holds
    assert verdict.detail == "ours ÷ floor per added KiB 1.20, 1.20"
    per_message = {s: 10.0 + 10 * s / 1024 for s in sizes}  # decoded ten times
    assert not analysis.like_floor_claim(per_message, floor).holds
    assert analysis.marginal_costs({0: 0.0, 10: 5.0, 20: 20.0}) == [0.5, 1.5]


def test_decode_once_claim() -> None:
    assert analysis.decode_once_claim(1000.0, 1100.0, 10).holds
    per_message = analysis.decode_once_claim(1000.0, 9800.0, 10)
    assert not per_message.holds
    assert per_message.detail == "10 messages cost 9.80× one"


# Memory -----------------------------------------------------------------------------------


def test_flatness_after_warmup() -> None:
    samples = [(0, 30_000), (50_000, 40_000), (100_000, 41_000), (150_000, 40_500)]
    flat = analysis.flatness(samples, 50_000)
    assert (flat.baseline_kib, flat.highest_kib, flat.last_kib) == (40_000, 41_000, 40_500)
    assert flat.growth == pytest.approx(0.025)
    assert flat.within(0.10)
    leak = analysis.flatness([*samples, (200_000, 48_000)], 50_000)
    assert not leak.within(0.10)
    with pytest.raises(ValueError):
        analysis.flatness(samples, 1_000_000)


def test_mem_claim() -> None:
    assert analysis.mem_claim(150.0, 100.0).holds
    assert not analysis.mem_claim(250.0, 100.0).holds
    assert analysis.mem_claim(250.0, 100.0).text() == (
        "does not hold: W2 memory per request ≤ 2× the floor's (2.50×)"
    )


# The growth requests ----------------------------------------------------------------------


def worker(contestant: str, *commands: dict[str, object]) -> list[dict[str, object]]:
    lines = "".join(json.dumps(c) + "\n" for c in [*commands, {"op": "quit"}])
    done = subprocess.run(
        [sys.executable, "worker.py", contestant],
        cwd=BENCH,
        input=lines,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    replies: list[dict[str, object]] = [json.loads(x) for x in done.stdout.splitlines()]
    return replies


@pytest.mark.parametrize("contestant", ["impl_ours", "impl_floor"])
def test_growth_requests_are_answered_and_checked(contestant: str) -> None:
    replies = worker(
        contestant,
        {"op": "growth", "messages": 1, "n": 1},
        {"op": "growth", "messages": 1000, "n": 1},
        {"op": "growth", "messages": 10, "state_bytes": 100 * 1024, "n": 1},
    )
    assert [sorted(r) for r in replies] == [["bytes", "ns"]] * 3, replies
    assert replies[2]["bytes"] == pytest.approx(100 * 1024, rel=0.01)


def test_growth_request_of_100_messages_is_w2_itself() -> None:
    code = (
        "import contract, growth_payloads as g;"
        "assert g.request(100) == contract.load_payloads()['w2_batch'];"
        "assert len(g.profile_json(1024)) in range(1024, 1024 + 14);"
        "assert g.profile_json(None) == g.profile_json(10);"
        "print('ok')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=BENCH, capture_output=True, text=True, timeout=60
    )
    assert done.stdout == "ok\n", done.stderr
