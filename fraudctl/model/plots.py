"""PNG copies of the evaluation curves, for people (DVC renders the CSV/JSON versions)."""

from __future__ import annotations

from pathlib import Path

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
    zoom: bool = False,
) -> None:
    """A curve on 0-1 axes; with ``zoom`` the axes end just past the data, because at a
    0.2 % fraud rate every calibration bin sits below a few percent and would hide in the
    corner of a 0-1 square."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
    ax.plot(frame[x], frame[y], lw=2, marker="o" if zoom else None, label="model")
    top = 1.0
    if zoom and len(frame):
        top = min(1.0, 1.1 * float(max(frame[x].max(), frame[y].max(), 1e-6)))
    if diagonal:
        ax.plot([0, top], [0, top], ls="--", color="grey", lw=1, label="perfect" if zoom else None)
    ax.set(xlabel=x, ylabel=y, title=title, xlim=(0, top), ylim=(0, top * 1.02))
    if zoom:
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
