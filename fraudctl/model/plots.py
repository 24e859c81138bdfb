"""PNG copies of the evaluation curves, for people (DVC renders the CSV/JSON versions)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fraudctl.io import write_with


def pyplot():
    """matplotlib's pyplot on the Agg backend: no display, safe in CI and in stages."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> None:
    """Lay out, write atomically as PNG, and free the figure."""
    fig.tight_layout()
    write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    pyplot().close(fig)


def save_line_plot(
    path: Path,
    frame: pd.DataFrame,
    x: str,
    y: str,
    title: str,
    diagonal: bool = False,
    log: bool = False,
) -> None:
    """A curve on 0-1 axes, its points joined in the frame's order (a PR curve's vertical
    drops stay vertical). With ``log`` both axes are logarithmic and each point is marked:
    at a 0.2 % fraud rate calibration bins span 1e-5 to 1, and a linear square puts all but
    one of them in its corner. A bin with no fraud sits on the bottom edge."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
    xs, ys = frame[x].to_numpy(dtype=float), frame[y].to_numpy(dtype=float)
    low = 0.0
    if log and len(frame):
        positive = np.concatenate([xs[xs > 0], ys[ys > 0]])
        low = 10 ** np.floor(np.log10(positive.min())) if positive.size else 1e-6
        ys = np.maximum(ys, low)
        ax.set(xscale="log", yscale="log")
    ax.plot(xs, ys, lw=2, marker="o" if log else None, label="model")
    if diagonal:
        start = low if log else 0.0
        ax.plot(
            [start, 1], [start, 1], ls="--", color="grey", lw=1, label="perfect" if log else None
        )
    ax.set(xlabel=x, ylabel=y, title=title)
    ax.set(xlim=(low, 1.0), ylim=(low, 1.5 if log else 1.02))
    if log:
        ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    save_figure(fig, path)


def save_confusion_plot(path: Path, tp: int, fp: int, fn: int, tn: int, title: str) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    cells = [[tn, fp], [fn, tp]]
    ax.imshow([[0, 1], [1, 0]], cmap="Blues", alpha=0.3)
    for i in range(2):
        for j in range(2):
            ax.text(j, i, f"{cells[i][j]:,}", ha="center", va="center", fontsize=14)
    ax.set_xticks([0, 1], ["legit", "fraud"])
    ax.set_yticks([0, 1], ["legit", "fraud"])
    ax.set(xlabel="predicted", ylabel="actual", title=title)
    save_figure(fig, path)
