import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.colors import to_rgb

from clipbook import plots


def test_a_category_keeps_its_colour_when_a_figure_shows_only_some_categories():
    palette = plots.category_palette(["b", "a", "c", "a"])
    assert list(palette) == ["a", "b", "c"] and len(set(palette.values())) == 3
    df = pd.DataFrame({"step": [1, 2, 1, 2], "value": [0.1, 0.2, 0.3, 0.4], "model": ["c", "c", "c", "c"],
                       "seed": [0, 0, 1, 1]})
    fig, (left, right) = plt.subplots(1, 2)
    plots.lines_with_ci(df, "step", "value", "model", ax=left, palette=palette)
    plots.points_with_ci(df, "step", "value", "model", ax=right, palette=palette)
    assert to_rgb(left.get_lines()[0].get_color()) == to_rgb(palette["c"])
    assert to_rgb(right.get_legend().legend_handles[0].get_color()) == to_rgb(palette["c"])
    plt.close(fig)


def test_ratio_axis_reads_the_core_to_spurious_variance_ratio():
    fig, ax = plt.subplots()
    ax.plot([0.1, 0.5, 4.0], [0.9, 0.8, 0.6])
    top = plots.ratio_axis(ax, core_std=4.0)
    forward, inverse = top._functions
    assert ax.get_xscale() == "log"
    assert forward(0.5) == 64.0 and forward(4.0) == 1.0  # (4 / 0.5) ** 2; equal spreads give 1
    assert inverse(64.0) == 0.5
    assert top.get_xlabel() == "core-to-spurious variance ratio"
    plt.close(fig)


def test_logit_lines_fit_one_line_per_family():
    df = pd.DataFrame({"family": ["a"] * 3 + ["b"] * 3, "id_accuracy": [0.2, 0.4, 0.6] * 2,
                       "ood_accuracy": [0.1, 0.2, 0.3, 0.15, 0.3, 0.45]})
    fig, ax = plt.subplots()
    plots.logit_lines(df, "family", ax=ax)
    assert ax.get_xscale() == ax.get_yscale() == "logit"
    assert len(ax.get_lines()) == 3  # y = x and one fitted line per family
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["y = x", "a", "b"]
    plt.close(fig)


def test_ratio_axis_is_silent_where_matplotlib_probes_zero():
    import warnings

    fig, ax = plt.subplots()
    ax.plot([0.1, 4.0], [0.9, 0.6])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        top = plots.ratio_axis(ax, core_std=4.0)
        forward, inverse = top._functions
        forward(0.0), inverse(0.0)
        fig.canvas.draw()
    plt.close(fig)
