"""Chapter 5's claim statistics on constructed tables whose answers are worked out here, and the
bootstrap interval of Spearman's rho."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from clipbook.evaluate.stats import spearman_ci
from clipbook.experiments import disentanglement as ex


def test_spearman_ci_of_a_monotone_relation_is_one():
    x = np.arange(10.0)
    ci = spearman_ci(x, x ** 3)
    assert (ci.mean, ci.lo, ci.hi, ci.n) == pytest.approx((1.0, 1.0, 1.0, 10))
    assert spearman_ci(x, -x).hi == pytest.approx(-1.0)


def test_spearman_ci_brackets_rho_and_agrees_with_scipy_on_each_resample():
    rng = np.random.default_rng(0)
    x = rng.normal(size=40)
    y = x + rng.normal(size=40)
    ci = spearman_ci(x, y, seed=1)
    assert ci.mean == pytest.approx(stats.spearmanr(x, y).statistic)
    assert ci.lo < ci.mean < ci.hi
    # the vectorized bootstrap is the percentile interval of scipy's rho over the same resamples
    idx = np.random.default_rng(1).integers(40, size=(2000, 40))
    boot = [stats.spearmanr(x[i], y[i]).statistic for i in idx]
    assert (ci.lo, ci.hi) == pytest.approx(tuple(np.percentile(boot, [2.5, 97.5])), abs=1e-9)


def test_spearman_ci_of_a_constant_is_not_a_number():
    ci = spearman_ci(np.ones(6), np.arange(6.0))
    assert np.isnan(ci.mean) and np.isnan(ci.lo)
    with pytest.raises(ValueError):
        spearman_ci([1, 2], [1, 2])


def _results() -> pd.DataFrame:
    """Three families x four seeds; family B is A + 0.1 (+ seed noise), C is constant chance."""
    rows = []
    for seed, noise in enumerate([0.00, 0.02, -0.01, 0.01]):
        rows += [{"family": "A", "text": "learned", "seed": seed, "composition": 0.5 + noise, "image_m": 1.0 + seed},
                 {"family": "B", "text": "learned", "seed": seed, "composition": 0.6 + 2 * noise,
                  "image_m": 2.0 + seed},
                 {"family": "C", "text": "entangled", "seed": seed, "composition": 0.1, "image_m": 0.0}]
    return pd.DataFrame(rows)


def test_family_gap_is_paired_by_seed():
    gap = ex.family_gap(_results(), "composition", "B", "A")
    differences = np.array([0.1, 0.12, 0.09, 0.11])  # 0.1 + noise, worked out by hand
    assert gap.mean == pytest.approx(differences.mean())
    half = stats.t.ppf(0.975, 3) * differences.std(ddof=1) / 2
    assert (gap.lo, gap.hi) == pytest.approx((differences.mean() - half, differences.mean() + half))


def test_family_differences_and_learned_text():
    learned = ex.learned_text(_results())
    assert set(learned.family) == {"A", "B"}
    h, p = ex.family_differences(learned)
    assert (h, p) == pytest.approx(tuple(stats.kruskal([0.5, 0.52, 0.49, 0.51], [0.6, 0.64, 0.58, 0.62])))
    assert np.isnan(ex.family_differences(learned[learned.family == "A"])[1])


def test_correlations_and_positive_count():
    table = ex.correlations(_results(), "image", ["m"])
    assert table.rho.iloc[0] == pytest.approx(stats.spearmanr(_results().image_m, _results().composition).statistic)
    assert ex.positive(pd.DataFrame({"lo": [0.1, -0.2, np.nan, 0.0]})) == 1  # NaN and a touching bound do not count
    gaps = ex.metric_gaps(_results(), "image", ["m"], "B", "A")
    assert gaps.gap.iloc[0] == pytest.approx(1.0) and gaps.seeds.iloc[0] == 4


def test_rise_over_training_compares_first_and_last_steps_per_seed():
    history = pd.DataFrame([{"family": "R", "metric": "z_diff", "seed": s, "step": step, "value": v}
                            for s, values in enumerate([(0.5, 0.7, 0.9), (0.6, 0.6, 0.8), (0.4, 0.9, 0.7)])
                            for step, v in zip((0, 50, 100), values)])
    rise = ex.rise_over_training(history, "R")
    assert rise.mean == pytest.approx(np.mean([0.4, 0.2, 0.3])) and rise.n == 3


def test_settings_change_one_thing_each():
    runs = ex.settings(0.75, [0.5, 0.75], [0.0, 0.8], [0.5], ["learned", "additive"])
    assert [r.family for r in runs] == ["reference", "coverage 0.5", "dependent pairs 0.8", "captions 0.5",
                                        "frozen additive text"]
    reference = runs[0]
    for run in runs[1:]:
        assert sum(a != b for a, b in zip(run[1:], reference[1:])) == 1
    with pytest.raises(ValueError, match="text towers"):
        ex.settings(0.75, [], [], [], ["bag-of-words"])
