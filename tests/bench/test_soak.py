"""bench/soak.py's verdicts, on synthetic windows: what CI checks instead of a 20-minute run.

The analysis is pure (windows in, verdicts out), so nothing here waits or
measures. One test runs the real soak for a few seconds when wrk is there,
and asserts only what load cannot change: it ran, answers verified, no errors.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))  # bench/ is scripts, not a package: its modules import each other
import soak  # noqa: E402

MIB = 1024


def windows(
    rps: Sequence[float],
    rss_mib: Sequence[float] | None = None,
    *,
    every: float = 10.0,
    cpu_us: float | Sequence[float] = 100.0,
) -> list[soak.Window]:
    """One window per rate, ``every`` seconds apart, each ``every`` seconds long.

    ``cpu_us`` is the server's CPU per request (one for all, or one per window);
    it never waits for a CPU.
    """
    rss = rss_mib if rss_mib is not None else [40.0] * len(rps)
    costs = [cpu_us] * len(rps) if isinstance(cpu_us, float | int) else list(cpu_us)
    return [
        soak.Window(
            end_s=(i + 1) * every,
            seconds=every,
            requests=round(r * every),
            socket_errors=0,
            non2xx=0,
            p99_us=5000,
            rss_kib=round(m * MIB),
            cpu_s=round(r * every) * c / 1e6,
            wait_s=0.0,
            load1=1.0,
        )
        for i, (r, m, c) in enumerate(zip(rps, rss, costs, strict=True))
    ]


# Throughput ------------------------------------------------------------------


def test_a_constant_rate_is_steady_with_no_trend() -> None:
    t = soak.throughput([1000.0] * 54)
    assert (t.windows, t.min, t.median, t.max, t.cv, t.trend) == (54, 1000, 1000, 1000, 0, 0)
    assert t.steady and not t.falling


def test_noise_of_five_percent_is_steady() -> None:
    t = soak.throughput([950.0, 1050.0] * 27)
    assert t.cv == pytest.approx(0.05)
    assert t.trend == pytest.approx(0.0)
    assert t.steady and not t.falling


def test_a_rate_sliding_by_a_third_is_a_downward_trend() -> None:
    t = soak.throughput([1000 - 10 * i for i in range(30)])  # 1000 down to 710
    assert t.trend == pytest.approx(755 / 955 - 1)  # means of the last and first ten
    assert t.falling


def test_a_rise_is_no_downward_trend() -> None:
    t = soak.throughput([700 + 10 * i for i in range(30)])
    assert t.trend > 0 and not t.falling


def test_one_slow_window_late_in_the_run_is_not_a_trend() -> None:
    t = soak.throughput([1000.0] * 29 + [500.0])  # a neighbour's burst at the very end
    assert t.trend == pytest.approx(-0.05)
    assert not t.falling


def test_noisy_but_level_is_reported_not_failed() -> None:
    a = soak.analyse(windows([700.0, 1300.0] * 30), warmup_s=60)
    assert a.throughput.cv == pytest.approx(0.3)
    assert not a.throughput.steady
    assert a.verdict == "PASS"  # the CV measures the neighbours


# Throughput verdict: PASS, FAIL or INCONCLUSIVE --------------------------------


def falling(waited: float) -> list[soak.Window]:
    """Requests/s sliding from 1,000 to 410 while the server waits for a CPU ``waited`` of the time."""
    return [
        dataclasses.replace(w, wait_s=w.seconds * waited)
        for w in windows([1000 - 10 * i for i in range(60)])
    ]


def test_a_drop_with_the_cpu_to_spare_fails() -> None:
    a = soak.analyse(falling(waited=0.05), warmup_s=60)
    assert a.throughput.falling and not a.contended
    assert a.throughput_verdict == a.verdict == "FAIL"


def test_a_drop_while_the_server_queued_for_a_cpu_is_inconclusive() -> None:
    a = soak.analyse(falling(waited=0.30), warmup_s=60)
    assert a.throughput.falling and a.contended
    assert a.throughput_verdict == a.verdict == "INCONCLUSIVE"


def test_ten_percent_waiting_is_still_judged() -> None:
    assert soak.analyse(falling(waited=0.10), warmup_s=60).verdict == "FAIL"


def test_contention_without_a_drop_passes() -> None:
    ws = [dataclasses.replace(w, wait_s=5.0) for w in windows([1000.0] * 60)]
    a = soak.analyse(ws, warmup_s=60)
    assert a.contended and a.verdict == "PASS"


def test_errors_or_memory_fail_even_when_throughput_is_inconclusive() -> None:
    ws = falling(waited=0.30)
    ws[-1] = dataclasses.replace(ws[-1], non2xx=1)
    assert soak.analyse(ws, warmup_s=60).verdict == "FAIL"
    grown = [
        dataclasses.replace(w, rss_kib=w.rss_kib * 2) if i > 30 else w
        for i, w in enumerate(falling(0.3))
    ]
    assert soak.analyse(grown, warmup_s=60).verdict == "FAIL"


def test_the_run_is_as_bad_as_its_worst_workload() -> None:
    def outcome(ws: list[soak.Window]) -> soak.Outcome:
        a = soak.analyse(ws, warmup_s=60)
        return soak.Outcome("w1_greeter", 600, 10, 60, ws, soak.LogTotals(0, 0, 0, ()), a)

    ok, unsure, bad = outcome(windows([1000.0] * 60)), outcome(falling(0.3)), outcome(falling(0))
    assert [soak.overall(x) for x in ([ok], [ok, unsure], [unsure, bad], [ok, bad])] == [
        "PASS",
        "INCONCLUSIVE",
        "FAIL",
        "FAIL",
    ]
    assert (soak.EXIT["PASS"], soak.EXIT["FAIL"], soak.EXIT["INCONCLUSIVE"]) == (0, 1, 3)


def test_pace_is_a_ratio_of_sums() -> None:
    ws = windows([1000.0, 3000.0], cpu_us=[200.0, 100.0])  # 2 s + 3 s of CPU for 40,000
    p = soak.pace(ws)
    assert (p.requests, p.seconds, p.waited) == (40_000, 20.0, 0.0)
    assert p.cpu_s == pytest.approx(5.0)
    assert p.cost_us == pytest.approx(125)
    assert p.ran == pytest.approx(0.25)


def test_thirds_of_fewer_than_three_values_are_single_values() -> None:
    assert soak.thirds([10.0, 20.0]) == (10.0, 20.0)
    assert soak.thirds([10.0]) == (10.0, 10.0)


def test_no_windows_is_an_error() -> None:
    with pytest.raises(ValueError):
        soak.throughput([])
    with pytest.raises(ValueError):
        soak.analyse([], warmup_s=60)


# Memory ----------------------------------------------------------------------


def test_growth_during_the_warmup_does_not_count() -> None:
    rss = [30.0, 32, 34, 36, 38, 40] + [40.0] * 54  # 10 s windows: the first minute grows
    m = soak.memory(windows([1000.0] * 60, rss), warmup_s=60)
    assert (m.baseline_kib, m.end_kib, m.peak_kib) == (40 * MIB, 40 * MIB, 40 * MIB)
    assert m.change == 0 and m.slope_kib_per_min == pytest.approx(0)
    assert m.flat


def test_nine_percent_growth_is_flat_and_eleven_is_not() -> None:
    flat = soak.memory(windows([1.0] * 3, [40.0, 42, 43.6]), warmup_s=10)
    assert flat.change == pytest.approx(0.09, abs=1e-4)  # KiB rounding
    assert flat.flat
    grown = soak.memory(windows([1.0] * 3, [40.0, 42, 44.4]), warmup_s=10)
    assert grown.change == pytest.approx(0.11, abs=1e-4)
    assert not grown.flat


def test_a_drop_beyond_ten_percent_is_not_flat_either() -> None:
    m = soak.memory(windows([1.0] * 3, [40.0, 38, 35]), warmup_s=10)
    assert m.change == pytest.approx(-0.125)
    assert not m.flat


def test_the_slope_is_per_minute() -> None:
    rss = [40 + i / 6 for i in range(60)]  # +1 MiB a minute in 10 s windows
    m = soak.memory(windows([1.0] * 60, rss), warmup_s=60)
    assert m.slope_kib_per_min == pytest.approx(MIB, abs=0.01)
    assert m.peak_kib == m.end_kib == round(rss[-1] * MIB)


def test_the_baseline_is_the_last_window_inside_the_warmup() -> None:
    ws = windows([1.0] * 10, every=7)  # ends at 7, 14, ..., 70
    assert soak.baseline_index(ws, warmup_s=20) == 1  # ends at 14
    assert soak.measured(ws, warmup_s=20) == ws[2:]


def test_a_first_window_longer_than_the_warmup_is_the_warmup() -> None:
    ws = windows([1.0] * 3, every=10)
    assert soak.baseline_index(ws, warmup_s=3) == 0
    assert soak.measured(ws, warmup_s=3) == ws[1:]
    [only] = windows([1.0])
    assert soak.measured([only], warmup_s=3) == [only]


# Errors and the whole verdict --------------------------------------------------


def test_a_clean_flat_level_run_passes() -> None:
    a = soak.analyse(windows([1000.0] * 60), warmup_s=60)
    assert (a.requests, a.non2xx, a.socket_errors, a.log_other) == (600_000, 0, 0, 0)
    assert a.clean and a.memory.flat and a.verdict == "PASS"
    assert a.first.cost_us == pytest.approx(100) and a.last.cost_us == pytest.approx(100)
    assert a.cost_trend == pytest.approx(0)


@pytest.mark.parametrize("field", ["non2xx", "socket_errors"])
def test_one_error_even_in_the_warmup_fails(field: str) -> None:
    ws = windows([1000.0] * 60)
    ws[0] = dataclasses.replace(ws[0], **{field: 1})
    a = soak.analyse(ws, warmup_s=60)
    assert not a.clean and a.verdict == "FAIL"


def test_a_line_in_the_server_log_other_than_a_200_fails() -> None:
    a = soak.analyse(windows([1000.0] * 60), warmup_s=60, log_other=1)
    assert not a.clean and a.verdict == "FAIL"


def test_growing_memory_fails_the_run() -> None:
    a = soak.analyse(windows([1000.0] * 60, [40.0 + i / 5 for i in range(60)]), warmup_s=60)
    assert not a.memory.flat and a.verdict == "FAIL"


def test_the_verdict_lines() -> None:
    ws = windows([1000.0] * 57 + [990.0, 1010.0, 1000.0], [40.0] * 59 + [40.4])
    lines = soak.verdict_lines(soak.analyse(ws, warmup_s=60), 60, logged_ok=600_008)
    assert lines == [
        "- Errors: 0 non-2xx answers and 0 socket errors in 600,000 requests; the server's log: "
        "600,008 answers logged 200, 0 other lines. **PASS**",
        "- Memory: VmRSS 40.0 MiB after the 60 s warm-up, 40.4 MiB at the end (+1.0 %; peak "
        "40.4 MiB, slope +0.00 MiB/min): flat within 10 %. **PASS**",
        "- Requests/s: 54 windows after the warm-up, min 990, median 1,000, max 1,010; "
        "CV 0.2 % (steady: at most 10 %); last third ÷ first third +0.0 %: no downward trend "
        "(limit -10 %). **PASS**",
        "- Server: ran 10 % of the time in the first third after the warm-up and 10 % in the "
        "last, waited for a CPU 0 % and 0 %; CPU per request 100 µs and 100 µs (+0.0 %; "
        "neighbours inflate it too).",
    ]


def test_the_verdict_lines_say_why_a_drop_is_judged_as_it_is() -> None:
    [fail] = [
        line
        for line in soak.verdict_lines(soak.analyse(falling(0.05), warmup_s=60), 60)
        if line.startswith("- Requests/s:")
    ]
    assert fail.endswith(
        "last third ÷ first third -42.1 %: a downward trend (limit -10 %), while the server had "
        "the CPU it asked for (it waited for a CPU 5 % of the time in the first third and 5 % in "
        "the last). **FAIL**"
    )
    unsure = soak.verdict_lines(soak.analyse(falling(0.3), warmup_s=60), 60)[2]
    assert unsure.endswith(
        "a downward trend (limit -10 %), but the server waited for a CPU 30 % of the time in the "
        "first third and 30 % in the last (more than 10 %): a busier machine, or a slower "
        "server, cannot be told apart. **INCONCLUSIVE**"
    )


# The per-tenth table ---------------------------------------------------------


def test_sixty_windows_make_ten_rows_of_six() -> None:
    rows = soak.tenths(windows([float(i) for i in range(1, 61)]))
    assert [r.windows for r in rows] == [6] * 10
    assert [(r.start_s, r.end_s) for r in rows[:2]] == [(0.0, 60.0), (60.0, 120.0)]
    assert rows[0].rps == pytest.approx(3.5)  # mean of 1..6, weighted by wrk's seconds
    assert rows[0].lowest_rps == 1
    assert rows[-1].rss_kib == 40 * MIB
    assert rows[0].pace.cost_us == pytest.approx(100)
    assert rows[0].pace.ran == pytest.approx(3.5 * 100 / 1e6)


def test_fewer_windows_than_tenths_give_one_row_each() -> None:
    rows = soak.tenths(windows([1.0] * 7))
    assert [r.windows for r in rows] == [1] * 7


def test_errors_land_in_their_tenth() -> None:
    ws = windows([1000.0] * 20)
    ws[13] = dataclasses.replace(ws[13], non2xx=2, socket_errors=1)
    rows = soak.tenths(ws)
    assert [(r.non2xx, r.socket_errors) for r in rows] == [(0, 0)] * 6 + [(2, 1)] + [(0, 0)] * 3


def test_the_report_has_a_table_per_workload_and_the_verdict() -> None:
    ws = windows([1000.0] * 60)
    outcomes = [
        soak.Outcome(
            w, 600, 10, 60, ws, soak.LogTotals(600_000, 600_000, 0, ()), soak.analyse(ws, 60)
        )
        for w in ("w1_greeter", "w2_batch")
    ]
    setting = soak.Setting(
        command="python bench/soak.py",
        minutes=10,
        connections=64,
        facts={"nproc": "2", "cpu": "a CPU", "kernel": "6.1", "loadavg": "0.5 0.5 0.5"},
        server={"runtime": "Python 3.11.7", "protobuf": "7.36.2 upb", "server": "aiohttp 3.14.5"},
        wrk="wrk 4.1.0",
        load_end="1.0 1.0 1.0",
        elapsed_s=1210,
        date="2026-12-01 21:00 UTC",
    )
    text = soak.report(outcomes, setting)
    assert text.startswith("# Soak: W1 and W2 over HTTP\n")
    assert "## W1 greeter, 1 message (`w1_greeter`)" in text
    assert "## W2 batch, 100 messages, 3 states (`w2_batch`)" in text
    assert (
        "| 0.0–1.0 min | 6 | 1,000 | 1,000 | 5.00 | 0 | 0 | 40.0 | 10 % | 0 % | 100 | 1.00 |"
        in text
    )
    assert text.count("**PASS**") == 3 * 2 + 1
    assert text.rstrip().endswith("Verdict: **PASS** (w1_greeter PASS; w2_batch PASS).")


# The real thing, briefly -------------------------------------------------------


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
@pytest.mark.skipif(
    not (BENCH.parent / ".venv" / "bin" / "python").exists(), reason="no project .venv"
)
def test_three_seconds_of_w1_through_statefun_serve(tmp_path: Path) -> None:
    out = tmp_path / "soak.md"
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH / "soak.py"),
            "--minutes",
            "0.05",
            "--connections",
            "4",
            "--workloads",
            "w1_greeter",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    # Three one-second windows on a busy machine can show a "trend" (exit 1 or 3),
    # so only errors, which load cannot cause, are asserted.
    assert done.returncode in (0, 1, 3), done.stderr
    assert "answers verified" in done.stderr
    text = out.read_text()
    [errors] = [line for line in text.splitlines() if line.startswith("- Errors:")]
    assert errors.startswith("- Errors: 0 non-2xx answers and 0 socket errors in ")
    assert errors.endswith(" 0 other lines. **PASS**")
    assert text.count("| 0 | 0 |") == 3  # one row per one-second window, none with an error
