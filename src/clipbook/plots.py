"""The book's figure style and its recurring figure kinds."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from matplotlib.ticker import FixedLocator, FormatStrFormatter, NullLocator

from clipbook.evaluate.robustness import baseline_band, fit_baseline
from clipbook.evaluate.stats import summarize


def set_style() -> None:
    """One look for every chapter: seaborn's whitegrid, colour-blind palette, crisp PNGs."""
    sns.set_theme(style="whitegrid", context="notebook", palette="colorblind")
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 110, "figure.figsize": (6.4, 4.0),
                         "axes.titleweight": "bold"})
    pd.set_option("display.max_colwidth", None)  # claims tables are sentences: never truncate them


def category_palette(values) -> dict:
    """One fixed colour per category (sorted), so a model keeps its colour in every figure even
    when a figure shows only some of the models."""
    names = sorted(set(values))
    return dict(zip(names, sns.color_palette(n_colors=len(names))))


def _colours(names, palette: dict | None) -> dict:
    """``palette`` when given, else the current palette in the order of ``names``."""
    return palette or dict(zip(names, sns.color_palette(n_colors=max(len(names), 1))))


def lines_with_ci(df: pd.DataFrame, x: str, y: str, hue: str, *, ax: plt.Axes | None = None,
                  ylabel: str | None = None, xlabel: str | None = None, marker: str | None = "o",
                  palette: dict | None = None) -> plt.Axes:
    """Mean of ``y`` against ``x`` per ``hue`` with its 95% Student-t band over seeds.

    ``marker=None`` for curves over training, where points are dense."""
    ax = ax or plt.gca()
    summary = summarize(df, [hue, x], y)
    groups = list(summary.groupby(hue, sort=False))
    colours = _colours([name for name, _ in groups], palette)
    for name, group in groups:
        color = colours[name]
        ax.plot(group[x], group["mean"], marker=marker, label=name, color=color)
        ax.fill_between(group[x], group["lo"], group["hi"], alpha=0.2, color=color, linewidth=0)
    ax.set(xlabel=xlabel or x, ylabel=ylabel or y)
    ax.legend(title=None, frameon=False)
    return ax


def legend_outside(ax: plt.Axes) -> None:
    """The legend to the right of the axes, where no curve or band can hide under it."""
    ax.legend(frameon=False, fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))


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


def ratio_axis(ax: plt.Axes, core_std: float) -> plt.Axes:
    """A log x axis of spurious stds with the core-to-spurious variance ratio
    ``(core_std / x) ** 2`` on top: the quantity Xue et al.'s theory turns on."""
    def ratio(x):
        with np.errstate(divide="ignore"):  # matplotlib probes the transform at 0 too
            return (core_std / np.asarray(x, dtype=float)) ** 2

    def spread(r):
        with np.errstate(divide="ignore"):
            return core_std / np.sqrt(np.asarray(r, dtype=float))

    ax.set_xscale("log")
    top = ax.secondary_xaxis("top", functions=(ratio, spread))
    top.set_xlabel("core-to-spurious variance ratio")
    return top


def heatmap(df: pd.DataFrame, index: str, columns: str, value: str, *, ax: plt.Axes | None = None,
            fmt: str = ".2f", cmap: str = "mako_r", label: str | None = None) -> plt.Axes:
    """Mean of ``value`` over seeds for every (``index``, ``columns``) cell of a sweep, annotated.

    The largest ``index`` is drawn at the top, so a knob that grows reads upwards."""
    ax = ax or plt.gca()
    grid = df.groupby([index, columns])[value].mean().unstack(columns).sort_index(ascending=False)
    sns.heatmap(grid, annot=True, fmt=fmt, cmap=cmap, ax=ax, cbar_kws={"label": label or value})
    ax.set(xlabel=columns, ylabel=index)
    return ax


def points_with_ci(df: pd.DataFrame, x: str, y: str, hue: str, *, ax: plt.Axes | None = None,
                   order: list | None = None, ylabel: str | None = None, xlabel: str | None = None,
                   palette: dict | None = None) -> plt.Axes:
    """Mean of ``y`` per category of ``x`` and per ``hue`` (side by side) with 95% Student-t bars.

    For effects measured per seed (e.g. paired differences against a baseline): a zero line is
    drawn, so an interval that does not cross it is an effect of a definite sign."""
    ax = ax or plt.gca()
    summary = summarize(df, [hue, x], y)
    order = order or list(dict.fromkeys(df[x]))
    hues = list(dict.fromkeys(df[hue]))
    width = 0.6 / max(len(hues), 1)
    colours = _colours(hues, palette)
    for i, name in enumerate(hues):
        color = colours[name]
        group = summary[summary[hue] == name].set_index(x).reindex(order)
        pos = np.arange(len(order)) + (i - (len(hues) - 1) / 2) * width
        ax.errorbar(pos, group["mean"], yerr=[group["mean"] - group["lo"], group["hi"] - group["mean"]],
                    fmt="o", capsize=4, color=color, label=str(name))
    ax.axhline(0, color="0.5", lw=1, ls=":")
    ax.set_xticks(np.arange(len(order)), order)
    ax.set(xlabel=xlabel or x, ylabel=ylabel or y)
    ax.legend(title=hue, frameon=False)
    return ax


def image_grid(rows: dict[str, torch.Tensor], n: int = 8, *, scale: float = 0.8) -> plt.Figure:
    """The first ``n`` images ``(N, 3, H, W)`` in [0, 1] of each named set, one set per row."""
    fig, axes = plt.subplots(len(rows), n, figsize=(n * scale, len(rows) * scale), squeeze=False)
    for r, (name, images) in enumerate(rows.items()):
        for c, ax in enumerate(axes[r]):
            ax.imshow(images[c].permute(1, 2, 0).clamp(0, 1).cpu().numpy(), interpolation="nearest")
            ax.set(xticks=[], yticks=[])
            ax.grid(False)
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize="small")
    fig.subplots_adjust(wspace=0.05, hspace=0.05)
    return fig


def effective_robustness(df: pd.DataFrame, baseline: pd.DataFrame, grid: np.ndarray, hue: str, *,
                         ax: plt.Axes | None = None, x: str = "id_accuracy", y: str = "ood_accuracy",
                         palette: dict | None = None) -> plt.Axes:
    """The signature figure of effective robustness (Taori et al.): every model's ID vs. OOD
    accuracy on logit axes, the line fitted to the ``baseline`` models with its 95% bootstrap
    band (on ``grid``), and y = x. A model above the line is more robust than its ID accuracy predicts."""
    ax = ax or plt.gca()
    _logit_axes(ax, grid)
    ax.plot(grid, fit_baseline(baseline[x], baseline[y]).predict(grid), color="0.2", lw=1.5, label="baseline fit")
    ax.fill_between(grid, *baseline_band(baseline[x], baseline[y], grid), color="0.2", alpha=0.15, linewidth=0)
    sns.scatterplot(df, x=x, y=y, hue=hue, style=hue, ax=ax, s=40, alpha=0.85, palette=palette)
    ax.legend(frameon=False, fontsize="small", loc="upper left")
    return ax


def _logit_axes(ax: plt.Axes, grid: np.ndarray) -> None:
    """Both axes in logit scale over ``grid``'s range, plain-number ticks, and y = x."""
    ax.set_xscale("logit")
    ax.set_yscale("logit")
    ax.plot(grid, grid, ls="--", color="0.5", lw=1, label="y = x")
    ticks = [t for t in (0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95) if grid[0] <= t <= grid[-1]]
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(FixedLocator(ticks))
        axis.set_major_formatter(FormatStrFormatter("%.2g"))
        axis.set_minor_locator(NullLocator())
    ax.set(xlabel="in-distribution accuracy (logit scale)", ylabel="out-of-distribution accuracy (logit scale)",
           xlim=(grid[0], grid[-1]), ylim=(grid[0], grid[-1]))


def logit_lines(df: pd.DataFrame, hue: str, *, ax: plt.Axes | None = None, x: str = "id_accuracy",
                y: str = "ood_accuracy") -> plt.Axes:
    """Every model's ID vs. OOD accuracy on logit axes with a line fitted per ``hue`` (Xue et al.'s
    and Fang et al.'s way of comparing families of models); a family whose ID accuracies do not
    vary has its points and no line."""
    ax = ax or plt.gca()
    values = np.concatenate([df[x], df[y]])
    grid = np.linspace(max(values.min() * 0.9, 0.01), min(1 - (1 - values.max()) * 0.9, 0.99), 100)
    _logit_axes(ax, grid)
    for (name, group), color in zip(df.groupby(hue, sort=False), sns.color_palette()):
        ax.scatter(group[x], group[y], s=16, alpha=0.6, color=color, label=name)
        if group[x].nunique() > 1:
            ax.plot(grid, fit_baseline(group[x], group[y]).predict(grid), color=color, lw=1.5)
    ax.legend(frameon=False, fontsize="small", loc="upper left")
    return ax


def metric_scatter(df: pd.DataFrame, columns: list[str], target: str, hue: str, correlations: pd.DataFrame, *,
                   palette: dict | None = None, titles: list[str] | None = None) -> plt.Figure:
    """One panel per metric column: each model's metric against ``target``, coloured by ``hue``,
    titled with Spearman's rho and its interval (``correlations``: rows with rho, lo, hi in
    ``columns``' order)."""
    fig, axes = plt.subplots(1, len(columns), figsize=(2.6 * len(columns), 2.8), sharey=True, squeeze=False)
    for ax, column, title, r in zip(axes[0], columns, titles or columns, correlations.itertuples()):
        sns.scatterplot(df, x=column, y=target, hue=hue, ax=ax, s=28, alpha=0.85, palette=palette,
                        legend=ax is axes[0, -1])
        ax.set_title(f"{title}\nrho {r.rho:.2f} [{r.lo:.2f}, {r.hi:.2f}]", fontsize="small")
        ax.set(xlabel=None)
    axes[0, -1].legend(frameon=False, fontsize="x-small", loc="upper left", bbox_to_anchor=(1, 1))
    return fig


def per_class_vs_frequency(per_class: pd.DataFrame, methods: list[str], *, palette: dict | None = None,
                           bins: int = 8) -> plt.Axes:
    """Per-class test accuracy against the class's training count (log axis), every class of every
    seed as a faint point, and the mean per count bin (equal-width in log count) as a line."""
    ax = plt.gca()
    colours = _colours(methods, palette)
    df = per_class[per_class.method.isin(methods)]
    edges = np.logspace(np.log10(df["count"].clip(lower=1).min()), np.log10(df["count"].max()), bins + 1)
    for method in methods:
        rows = df[df.method == method]
        ax.scatter(rows["count"].clip(lower=1), rows.accuracy, s=6, alpha=0.15, color=colours[method])
        binned = rows.groupby(pd.cut(rows["count"].clip(lower=1), edges, include_lowest=True), observed=True)
        centres = binned["count"].median()
        ax.plot(centres, binned.accuracy.mean(), marker="o", color=colours[method], label=method)
    ax.set_xscale("log")
    ax.set(xlabel="training examples of the class", ylabel="test accuracy of the class")
    ax.legend(frameon=False, fontsize="small")
    return ax


def effect_panels(effects: pd.DataFrame, labels: dict[str, str], *, main: Sequence[str] = ()) -> plt.Figure:
    """One panel per outcome (``labels``: outcome -> title), one above the other: each term's
    effect with its 95% interval (``outcome, term, effect, lo, hi``), largest first, main effects
    (``main``) in dark and interactions in light; a zero line, so an interval off it has a definite sign."""
    rows_per_panel = effects.term.nunique()
    fig, axes = plt.subplots(len(labels), 1, figsize=(7.5, len(labels) * (0.26 * rows_per_panel + 1.1)),
                             squeeze=False)
    for ax, (outcome, title) in zip(axes[:, 0], labels.items()):
        rows = effects[effects.outcome == outcome].iloc[::-1]
        pos = np.arange(len(rows))
        colour = ["0.15" if t in main else "0.6" for t in rows.term]
        ax.hlines(pos, rows.lo, rows.hi, colors=colour, lw=2)
        ax.scatter(rows.effect, pos, c=colour, zorder=3, s=18)
        ax.axvline(0, color="0.5", lw=1, ls=":")
        ax.set_yticks(pos, rows.term)
        ax.set(title=title, xlabel="effect (high minus low level)")
    fig.tight_layout()
    return fig
