"""Effective robustness on accuracies whose answers are known."""

import numpy as np
import pandas as pd
import pytest
from scipy import special

from clipbook.evaluate import robustness
from clipbook.evaluate.robustness import baseline_band, effective_robustness_ci, fit_baseline, logit
from clipbook.evaluate.stats import percentile_bounds, spearman_ci


def _on_line(id_acc, slope=1.2, intercept=-0.8):
    return special.expit(slope * special.logit(id_acc) + intercept)


def test_fit_recovers_a_line_in_logit_space():
    id_acc = np.linspace(0.3, 0.9, 8)
    fit = fit_baseline(id_acc, _on_line(id_acc))
    assert (fit.slope, fit.intercept) == pytest.approx((1.2, -0.8))
    assert fit.effective_robustness(id_acc, _on_line(id_acc)) == pytest.approx(np.zeros(8), abs=1e-12)


def test_effective_robustness_is_the_vertical_distance_to_the_line():
    id_acc = np.linspace(0.3, 0.9, 8)
    fit = fit_baseline(id_acc, _on_line(id_acc))
    above = _on_line(0.6) + 0.1
    assert fit.effective_robustness([0.6], [above]) == pytest.approx([0.1])
    assert fit.effective_robustness([0.6], [_on_line(0.6) - 0.05]) == pytest.approx([-0.05])


def test_known_imagenet_testbed_numbers():
    """A logit line with slope 1 and intercept 0 predicts OOD = ID: ER = OOD - ID."""
    id_acc = np.array([0.2, 0.5, 0.8])
    fit = fit_baseline(id_acc, id_acc)
    assert fit.effective_robustness([0.7613], [0.2409]) == pytest.approx([0.2409 - 0.7613])


def test_bootstrap_band_is_tight_without_noise_and_widens_with_it():
    id_acc = np.linspace(0.3, 0.9, 12)
    grid = np.array([0.5, 0.7])
    lo, hi = baseline_band(id_acc, _on_line(id_acc), grid, n_boot=200)
    assert hi - lo == pytest.approx([0, 0], abs=1e-9) and lo == pytest.approx(_on_line(grid))
    noisy = special.expit(special.logit(_on_line(id_acc)) + np.random.default_rng(0).normal(0, 0.2, 12))
    lo, hi = baseline_band(id_acc, noisy, grid, n_boot=200)
    assert np.all(hi - lo > 0.01) and np.all(lo < _on_line(grid) + 0.05) and np.all(hi > _on_line(grid) - 0.05)


def test_effective_robustness_interval_contains_the_truth():
    rng = np.random.default_rng(1)
    id_acc = np.linspace(0.3, 0.9, 15)
    ood = special.expit(special.logit(_on_line(id_acc)) + rng.normal(0, 0.1, 15))
    ci = effective_robustness_ci(id_acc, ood, [0.6, 0.7], [_on_line(0.6) + 0.1, _on_line(0.7) + 0.1], n_boot=300)
    assert ci.lo < 0.1 < ci.hi and ci.lo > 0.0


def test_degenerate_baselines_are_rejected():
    with pytest.raises(ValueError, match="^the baseline needs at least two models with different ID accuracies$"):
        fit_baseline([0.5, 0.5], [0.3, 0.4])
    assert np.isfinite(logit([0.0, 1.0])).all()
    two = fit_baseline(special.expit([0.0, 1.0]), special.expit([-1.0, 1.0]))  # two models are enough
    assert (two.slope, two.intercept) == pytest.approx((2.0, -1.0))


def test_resamples_without_spread_are_skipped_not_fitted():
    # a baseline of two models: a resample draws one of them twice half the time, and has no line
    ci = effective_robustness_ci(special.expit([0.0, 1.0]), special.expit([-1.0, 1.0]), [0.6], [0.7], n_boot=100)
    assert 20 < ci.n < 80
    # lines of one checkpoint per seed: resampling two seeds draws one twice half the time, on either line
    a = pd.DataFrame({"seed": [0, 1], "id_accuracy": [0.3, 0.5], "ood_accuracy": [0.2, 0.4]})
    b = pd.DataFrame({"seed": [0, 1], "id_accuracy": [0.4, 0.6], "ood_accuracy": [0.2, 0.3]})
    gap = robustness.line_gap(a, b, at=0.45, n_boot=100)
    assert 10 < gap.n < 40  # both resamples have spread a quarter of the time


def _line(offsets_by_seed: dict[int, float], ids=(0.3, 0.5, 0.7)) -> pd.DataFrame:
    """Checkpoints on logit(OOD) = logit(ID) + offset, the offset fixed per seed."""
    rows = [{"seed": s, "id_accuracy": x, "ood_accuracy": float(special.expit(special.logit(x) + o))}
            for s, o in offsets_by_seed.items() for x in ids]
    return pd.DataFrame(rows)


def test_overlap_midpoint():
    assert robustness.overlap_midpoint([0.2, 0.6, 0.4], [0.9, 0.4]) == pytest.approx(0.5)
    assert robustness.overlap_midpoint([0.2, 0.4], [0.4, 0.6]) == pytest.approx(0.4)  # ranges that touch
    assert np.isnan(robustness.overlap_midpoint([0.1, 0.2], [0.3, 0.4]))


def test_line_gap_is_the_distance_between_two_exact_lines():
    a, b = _line({0: 0.5, 1: 0.5, 2: 0.5}), _line({0: 0.0, 1: 0.0, 2: 0.0})
    gap = robustness.line_gap(a, b, at=0.5, n_boot=200)
    expected = special.expit(0.5) - 0.5  # at ID 0.5 (logit 0): expit(0.5) against 0.5
    assert (gap.mean, gap.lo, gap.hi) == pytest.approx((expected, expected, expected), abs=1e-9)
    assert gap.n == 200
    assert robustness.line_gap(b, a, at=0.5, n_boot=10).mean == pytest.approx(-expected)


def test_line_gap_resamples_whole_seeds():
    """Seed 0's checkpoints sit on offset 0, seed 1's on offset 1. Resampling seeds, a quarter of the
    resamples hold seed 0 alone and a quarter seed 1 alone, so the 2.5% and 97.5% quantiles are
    exactly those one-seed lines; resampling single checkpoints would put them in between."""
    a, b = _line({0: 0.0, 1: 1.0}), _line({5: 0.0})
    gap = robustness.line_gap(a, b, at=0.5, n_boot=400)
    assert gap.lo == pytest.approx(0.0, abs=1e-9)
    assert gap.hi == pytest.approx(special.expit(1.0) - 0.5, abs=1e-9)


def test_percentile_bounds_are_the_central_quantiles():
    values = np.arange(101.0)  # the q-quantile of 0, 1, ..., 100 is 100 q
    assert percentile_bounds(values) == pytest.approx((2.5, 97.5))
    assert percentile_bounds(values, 0.5) == pytest.approx((25.0, 75.0))
    lo, hi = percentile_bounds(np.stack([values, 2 * values], axis=1), 0.9)  # per column
    assert lo == pytest.approx([5.0, 10.0]) and hi == pytest.approx([95.0, 190.0])


def _noisy_baseline(n=10, seed=1):
    id_acc = np.linspace(0.3, 0.9, n)
    return id_acc, special.expit(special.logit(_on_line(id_acc)) + np.random.default_rng(seed).normal(0, 0.2, n))


def _resampling_read_outs():
    """Each resampling read-out as ``f(**options) -> numbers``, with the defaults its signature documents."""
    id_acc, ood = _noisy_baseline()
    a, b = _line({0: 0.5, 1: 0.3, 2: 0.6}), _line({0: 0.0, 1: 0.2, 2: -0.1})
    x = np.arange(12.0)
    y = x + np.random.default_rng(0).normal(0, 3, 12)  # rho 0.80, its interval away from 1
    return {
        "baseline_band": (lambda **o: np.concatenate(baseline_band(id_acc, ood, np.array([0.5, 0.7]), **o)),
                          dict(n_boot=1000, confidence=0.95, seed=0)),
        "effective_robustness_ci": (lambda **o: effective_robustness_ci(id_acc, ood, [0.6], [0.7], **o),
                                    dict(n_boot=1000, confidence=0.95, seed=0)),
        "line_gap": (lambda **o: robustness.line_gap(a, b, at=0.5, **o), dict(n_boot=1000, confidence=0.95, seed=0)),
        "spearman_ci": (lambda **o: spearman_ci(x, y, **o),
                        dict(n_resamples=2000, confidence=0.95, seed=0)),
    }


@pytest.mark.parametrize("name", list(_resampling_read_outs()))
def test_resampling_read_outs_keep_their_documented_defaults(name):
    """1000 resamples (2000 for Spearman), seed 0, 95%: the chapters' intervals are reproducible
    from the signatures alone."""
    read_out, defaults = _resampling_read_outs()[name]
    assert np.array_equal(np.asarray(read_out()), np.asarray(read_out(**defaults)), equal_nan=True)


@pytest.mark.parametrize("name", list(_resampling_read_outs()))
def test_a_lower_confidence_narrows_the_interval(name):
    read_out, defaults = _resampling_read_outs()[name]
    fewer = {k: v // 5 for k, v in defaults.items() if k in ("n_boot", "n_resamples")}
    wide, narrow = np.asarray(read_out(confidence=0.95, **fewer)), np.asarray(read_out(confidence=0.5, **fewer))
    if name == "baseline_band":
        (wide_lo, wide_hi), (lo, hi) = np.split(wide, 2), np.split(narrow, 2)
    else:
        (wide_lo, wide_hi), (lo, hi) = wide[1:3], narrow[1:3]
    assert np.all(wide_lo < lo) and np.all(hi < wide_hi)


def test_the_effective_robustness_interval_counts_its_resamples():
    id_acc, ood = _noisy_baseline()
    # ten distinct baseline models: a resample with no spread in ID (one model drawn ten times) has
    # probability 10 / 10^10, so every one of the 300 resamples is kept
    assert effective_robustness_ci(id_acc, ood, [0.6], [0.7], n_boot=300).n == 300


def test_at_accuracy_reads_a_trajectory_where_it_first_reached_an_accuracy():
    acc, values = [0.2, 0.5, 0.8, 0.6], [0.0, 1.0, 2.0, 3.0]
    assert robustness.at_accuracy(acc, values, 0.5) == 1.0  # a checkpoint exactly there
    # between 0.5 and 0.8, linear in logit(ID): logit(0.65) is not the midpoint of logit(0.5) and logit(0.8)
    w = (special.logit(0.65) - special.logit(0.5)) / (special.logit(0.8) - special.logit(0.5))
    assert robustness.at_accuracy(acc, values, 0.65) == pytest.approx(1.0 + w)
    assert robustness.at_accuracy(acc, values, 0.7) < 2.0  # the first crossing, not the later dip to 0.6
    # between 0.2 and 0.5, where neither end has logit 0
    w = (special.logit(0.35) - special.logit(0.2)) / (special.logit(0.5) - special.logit(0.2))
    assert robustness.at_accuracy(acc, values, 0.35) == pytest.approx(w)
    assert np.isnan(robustness.at_accuracy(acc, values, 0.9))  # never that accurate
    assert np.isnan(robustness.at_accuracy(acc, values, 0.1))  # already past it at the first checkpoint
    assert robustness.at_accuracy(acc, values, 0.2) == 0.0
