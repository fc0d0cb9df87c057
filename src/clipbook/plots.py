"""The book's figure style and its recurring figure kinds."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from clipbook.evaluate.stats import summarize


def set_style() -> None:
    """One look for every chapter: seaborn's whitegrid, colour-blind palette, crisp PNGs."""
    sns.set_theme(style="whitegrid", context="notebook", palette="colorblind")
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 110, "figure.figsize": (6.4, 4.0),
                         "axes.titleweight": "bold"})
    pd.set_option("display.max_colwidth", None)  # claims tables are sentences: never truncate them


def lines_with_ci(df: pd.DataFrame, x: str, y: str, hue: str, *, ax: plt.Axes | None = None,
                  ylabel: str | None = None, xlabel: str | None = None) -> plt.Axes:
    """Mean of ``y`` against ``x`` per ``hue`` with its 95% Student-t band over seeds."""
    ax = ax or plt.gca()
    summary = summarize(df, [hue, x], y)
    for (name, group), color in zip(summary.groupby(hue, sort=False), sns.color_palette()):
        ax.plot(group[x], group["mean"], marker="o", label=name, color=color)
        ax.fill_between(group[x], group["lo"], group["hi"], alpha=0.2, color=color, linewidth=0)
    ax.set(xlabel=xlabel or x, ylabel=ylabel or y)
    ax.legend(title=None, frameon=False)
    return ax


def id_ood_scatter(df: pd.DataFrame, hue: str, *, x: str = "id_accuracy", y: str = "ood_accuracy",
                   ax: plt.Axes | None = None) -> plt.Axes:
    """Every model's ID vs. OOD accuracy with a least-squares line per ``hue`` and y = x."""
    ax = ax or plt.gca()
    lo = float(min(df[x].min(), df[y].min())) - 0.02
    ax.plot([lo, 1], [lo, 1], ls="--", color="0.5", lw=1, label="y = x (no drop)")
    for (name, group), color in zip(df.groupby(hue, sort=False), sns.color_palette()):
        ax.scatter(group[x], group[y], s=18, alpha=0.7, color=color, label=name)
        if group[x].nunique() > 1:
            slope, intercept = np.polyfit(group[x], group[y], 1)
            xs = np.linspace(group[x].min(), group[x].max(), 2)
            ax.plot(xs, slope * xs + intercept, color=color, lw=1.5)
    ax.set(xlabel="in-distribution accuracy", ylabel="out-of-distribution accuracy", xlim=(lo, 1.0), ylim=(lo, 1.0))
    ax.legend(frameon=False, fontsize="small")
    return ax
