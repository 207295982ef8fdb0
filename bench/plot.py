"""Draw the growth curves: run by growth.py in bench/.venv-plot, where matplotlib is.

    bench/.venv-plot/bin/python bench/plot.py DATA.json OUTDIR

DATA.json is what growth.py writes: per contestant, µs per invocation by batch
size, and µs per request by state size for each message count. Writes
OUTDIR/growth-batch.png and OUTDIR/growth-state.png, both axes logarithmic.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STYLE = {"ours": "tab:blue", "floor": "tab:gray", "official": "tab:red"}
META = {"Software": None}  # no matplotlib version in the file: the PNG changes only with the data


def batch_plot(data: dict[str, Any], out: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for label, points in data["batch"].items():
        xs = [int(b) for b in points]
        ax.plot(xs, list(points.values()), "o-", label=label, color=STYLE.get(label))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("invocations per request (batch size)")
    ax.set_ylabel("µs per invocation (median)")
    ax.set_title("W2-like batch (3 states, ~210 B JSON profile): cost per invocation")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.text(0.01, 0.01, data["caption"], fontsize=7, color="dimgray")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(out, metadata=META)
    plt.close(fig)


def state_plot(data: dict[str, Any], out: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for label, by_messages in data["state"].items():
        for messages, points in by_messages.items():
            xs = [int(s) for s in points]
            ax.plot(
                xs,
                list(points.values()),
                "o-" if messages == "1" else "s--",
                label=f"{label}, {messages} message{'s' if messages != '1' else ''}",
                color=STYLE.get(label),
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("JSON state size (bytes)")
    ax.set_ylabel("µs per request (median)")
    ax.set_title("One request updating a JSON state of that size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.text(0.01, 0.01, data["caption"], fontsize=7, color="dimgray")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(out, metadata=META)
    plt.close(fig)


if __name__ == "__main__":
    data = json.loads(Path(sys.argv[1]).read_text())
    outdir = Path(sys.argv[2])
    batch_plot(data, outdir / "growth-batch.png")
    state_plot(data, outdir / "growth-state.png")
