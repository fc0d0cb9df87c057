"""Statistics and linear-model read-outs on inputs whose answers are known."""

import numpy as np
import pandas as pd
import pytest
import torch

from clipbook.evaluate.classify import accuracy, linear_probe, probe_accuracy
from clipbook.evaluate.readout import own_class_vote, signal_share
from clipbook.evaluate.rules import Within
from clipbook.evaluate.stats import (UNDECIDED, Interval, bounded_ci, ci_table, equivalence_power, mean_ci,
                                     paired_difference, spearman_ci,
                                     spearman_per_group, summarize)
from clipbook.evaluate.zero_shot import ensemble_head, linear_head
from clipbook.models import linear


def test_mean_ci_matches_the_student_t_formula():
    ci = mean_ci([1.0, 2.0, 3.0])
    half = 4.302652729911275 * 1.0 / np.sqrt(3)  # t_{0.975, 2} * s / sqrt(n)
    assert (ci.mean, ci.lo, ci.hi, ci.n) == pytest.approx((2.0, 2.0 - half, 2.0 + half, 3))
    assert mean_ci([0.5, 0.5]) == (0.5, 0.5, 0.5, 2, 0.95, 0)
    assert mean_ci([1.0, 2.0, 3.0], 0.9).confidence == 0.9
    one = mean_ci([1.0])
    assert one.mean == 1.0 and np.isnan(one.lo) and np.isnan(one.hi) and one.n == 1
    with pytest.raises(ValueError, match="^mean_ci needs at least one value$"):
        mean_ci([])


def test_an_interval_never_reads_negative_zero():
    assert str(Interval(-0.0002, -0.012, -0.0004, 3)) == "0.000 [-0.012, 0.000]"
    assert str(UNDECIDED) == "nan [nan, nan]"


def test_mean_ci_leaves_missing_values_out_and_counts_them():
    # None (a missing value in a Python list or an object column) is NaN, as in pandas
    assert mean_ci([1.0, None, 3.0, float("nan")]) == mean_ci([1.0, 3.0])._replace(missing=2)
    assert mean_ci([1.0, None, 3.0]).n == 2 and mean_ci([1.0, None, 3.0]).missing == 1
    assert str(mean_ci([1.0, None, 3.0])).endswith(" (1 of 3 missing)")
    every = mean_ci([None, float("nan")])  # nothing to estimate: an interval no rule decides on, not an error
    assert every.n == 0 and every.missing == 2 and np.isnan(every.mean)


def _sweep():
    rows = [{"seed": s, "x": x, "method": m, "v": x * (2 if m == "a" else 1) + 0.01 * s}
            for s in range(4) for x in (1, 2, 3) for m in ("a", "b")]
    return pd.DataFrame(rows)


def test_summaries_and_paired_differences():
    df = _sweep()
    summary = summarize(df, ["method", "x"], "v")
    assert list(summary.columns) == ["method", "x", "mean", "lo", "hi", "n"]
    assert summary.n.tolist() == [4] * 6
    diff = paired_difference(df[df.x == 3], "v", "method", "a", "b")
    assert (diff.mean, diff.lo, diff.hi) == pytest.approx((3.0, 3.0, 3.0))  # the seed offset cancels when paired
    table = ci_table(df, "x", "method", "v")
    assert table.shape == (3, 3) and table.loc[1, "a"].startswith("2.015 [") and table.loc[1, "seeds"] == "4"


def test_spearman_per_group():
    df = _sweep()
    rho = spearman_per_group(df[df.method == "a"], "x", "v")
    assert rho.tolist() == [1.0] * 4
    rho_down = spearman_per_group(df[df.method == "a"].assign(v=lambda d: -d.v), "x", "v")
    assert rho_down.tolist() == [-1.0] * 4


def test_accuracy():
    logits = torch.tensor([[[2.0, 1.0], [0.0, 1.0], [3.0, 0.0]]])
    assert accuracy(logits, torch.tensor([[0, 1, 1]])).tolist() == pytest.approx([2 / 3])


@pytest.mark.parametrize("w_core,w_spur,share", [(1.0, 0.0, 0.0), (0.0, 1.0, 1.0), (1.0, 1.0, 0.5), (1.0, 3.0, 0.75)])
def test_signal_share_of_known_classifiers(w_core, w_spur, share):
    k = 2
    eye = torch.eye(k)
    classifier = torch.cat([w_core * eye, w_spur * eye, torch.ones(k, 3)], dim=1).unsqueeze(0)  # noise weights are class-constant
    embedding = torch.eye(2 * k + 3).unsqueeze(0)
    got = signal_share(classifier, embedding, slice(k, 2 * k), slice(0, k), 1.0, 1.0)
    assert got.item() == pytest.approx(share)


def test_signal_share_ignores_shifts_that_do_not_move_the_argmax():
    eye = torch.eye(2)
    shifted = torch.cat([eye + 5.0, eye * 0 + 7.0], dim=1).unsqueeze(0)  # spurious block constant: no signal
    assert signal_share(shifted, torch.eye(4).unsqueeze(0), slice(2, 4), slice(0, 2), 1.0, 1.0).item() == 0.0


def test_linear_head_agrees_with_cosine_zero_shot_logits():
    g = torch.Generator().manual_seed(0)
    params = linear.init_clip(2, 6, 5, 3, seed=1)
    images, prompts = torch.randn(2, 50, 6, generator=g), torch.randn(2, 4, 5, generator=g)
    cosine = torch.bmm(linear.encode(params["image"], images), linear.encode(params["text"], prompts).transpose(1, 2))
    by_head = torch.bmm(images, linear_head(params, prompts).transpose(1, 2)).argmax(-1)
    assert torch.equal(cosine.argmax(-1), by_head)


def test_ensemble_head_is_the_normalized_mean_of_each_class_s_prompts():
    text = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0], [3.0, 4.0], [3.0, 4.0]]), dim=-1)
    head = ensemble_head(text, n_classes=2)
    expected = torch.tensor([[2 ** -0.5, 2 ** -0.5], [0.6, 0.8]])
    assert torch.allclose(head, expected, atol=1e-6)
    assert ensemble_head(text.expand(3, -1, -1), 2).shape == (3, 2, 2)  # stacked models


def test_accuracy_is_per_model_on_stacked_logits():
    logits = torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    assert accuracy(logits, torch.tensor([0, 1])).tolist() == [1.0, 0.5]


# A double-centred 2 x 2 block D (zero row and column means, norm 2, diagonal 1) plus row offsets
# (5, -2) and column offsets (3, 7): the read-outs must see D alone.
D = torch.tensor([[1.0, -1.0], [-1.0, 1.0]])
OFFSET = torch.tensor([[5.0], [-2.0]]) + torch.tensor([[3.0, 7.0]])


def _two_models(blocks):
    """Classifiers of two models whose latent weights (identity embedding) are ``blocks`` side by side."""
    classifier = torch.stack([torch.cat(b, dim=1) for b in blocks])
    return classifier, torch.eye(classifier.shape[-1]).expand(len(blocks), -1, -1)


def test_signal_share_reads_the_double_centred_blocks_with_each_model_s_scales():
    classifier, embedding = _two_models([(D + OFFSET, 2 * D - OFFSET), (D + OFFSET, 2 * D + OFFSET)])
    # norms 2 and 4; model 0 at scales (1, 1): 2 / 6; model 1 at scales (2, 3): 4 / (4 + 12)
    share = signal_share(classifier, embedding, slice(0, 2), slice(2, 4), torch.tensor([1.0, 2.0]), torch.tensor([1.0, 3.0]))
    assert share.tolist() == pytest.approx([1 / 3, 1 / 4])


def test_own_class_vote_is_the_double_centred_diagonal_times_each_model_s_scale():
    classifier, embedding = _two_models([(D + OFFSET,), (-D + 2 * OFFSET,)])  # each model its own offsets
    assert own_class_vote(classifier, embedding, slice(0, 2), torch.tensor([1.0, 3.0])).tolist() == pytest.approx([1.0, -3.0])


def test_a_linear_probe_scores_the_share_it_predicts_right():
    features = torch.tensor([[-2.0, 0.0], [-1.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    probe = linear_probe(features, torch.tensor([0, 0, 1, 1]))
    # the probe splits at 0; three of the four labels agree with that split
    assert probe_accuracy(probe, torch.tensor([[-3.0, 1.0], [3.0, 1.0], [-0.5, 0.0], [0.5, 0.0]]),
                          torch.tensor([0, 1, 0, 0])) == 0.75


def test_spearman_ci_from_a_single_resample():
    x = [1.0, 2.0, 3.0]
    # seed 0 draws rows (2, 1, 1): not constant, rho 1, a zero-width interval from that one resample
    assert tuple(spearman_ci(x, x, n_resamples=1, seed=0))[:4] == (1.0, 1.0, 1.0, 3)
    # seed 4 draws (2, 2, 2): constant, no correlation, so no interval (rho itself still 1)
    ci = spearman_ci(x, x, n_resamples=1, seed=4)
    assert ci.mean == 1.0 and np.isnan(ci.lo) and np.isnan(ci.hi) and ci.n == 3


def test_summarize_passes_its_confidence_on():
    df = pd.DataFrame({"g": ["a"] * 4, "v": [1.0, 2.0, 4.0, 7.0]})
    wide, narrow = summarize(df, "g", "v").iloc[0], summarize(df, "g", "v", confidence=0.5).iloc[0]
    expected = mean_ci(df.v, 0.5)
    assert (narrow["lo"], narrow["hi"]) == pytest.approx((expected.lo, expected.hi)) and wide["lo"] < narrow["lo"]


def test_spearman_ci_needs_paired_samples_of_three():
    for x, y in (([1.0, 2.0], [1.0, 2.0]), ([1.0, 2.0, 3.0], [1.0, 2.0])):
        with pytest.raises(ValueError, match="^spearman_ci needs two equally long samples of at least three values$"):
            spearman_ci(x, y)


def _equivalent(values, margin):
    """The verdict of two one-sided tests at 5% (the rules' :class:`Within`) as True / False / None."""
    return Within(margin, "test").decide(mean_ci(values, 0.90)).reproduced


def test_equivalence_reads_the_90_percent_interval_against_the_margin():
    # mean 0.01, sd 0.01155, n 4: the 90% interval is 0.01 +/- t(0.95, 3) * 0.005774 = [-0.0036, 0.0236]
    values = [0.0, 0.0, 0.02, 0.02]
    assert mean_ci(values, 0.9).hi == pytest.approx(0.01 + 2.3534 * 0.005774, abs=1e-4)
    assert _equivalent(values, margin=0.03) is True
    assert _equivalent(values, margin=0.02) is None  # straddles +0.02: too little power to say
    assert _equivalent([v + 0.1 for v in values], margin=0.03) is False  # wholly beyond the margin
    assert _equivalent([v - 0.1 for v in values], margin=0.03) is False
    assert _equivalent([0.0], margin=0.03) is None  # one seed decides nothing
    assert _equivalent(values, margin=0.022) is None  # an 85% interval (hi 0.0211) would call it equivalent
    assert _equivalent([v - 0.06 for v in values], margin=0.05) is None  # straddles the lower bound
    assert _equivalent([0.05, 0.06, 0.05, 0.06], margin=0.04) is False  # 90% interval [0.048, 0.062]
    # no spread is no estimate: two equal values decide nothing, whichever side of the margin (a test audit's case)
    assert _equivalent([0.049, 0.049], margin=0.05) is None and _equivalent([0.05, 0.05], margin=0.05) is None
    # all NaN: undecided, not an error
    assert _equivalent([float("nan")] * 3, margin=0.05) is None
    # a 95% interval would straddle where the 90% one decides (TOST at 5% reads the 90% interval)
    assert mean_ci(values, 0.95).hi > 0.028 and _equivalent(values, 0.024) is True


def test_equivalence_power_grows_with_seeds_and_falls_with_spread_and_effect():
    assert equivalence_power(0.03, 10, 0.05) > equivalence_power(0.03, 5, 0.05) > equivalence_power(0.06, 5, 0.05)
    assert equivalence_power(0.03, 5, 0.05, effect=0.04) < equivalence_power(0.03, 5, 0.05)
    assert equivalence_power(0.001, 5, 0.05) == 1.0 and equivalence_power(0.03, 5, 0.05, effect=0.2) == 0.0
    # the simulation's own seed moves it by Monte Carlo error only, and a seed gives one number
    assert abs(equivalence_power(0.03, 6, 0.05, seed=1) - equivalence_power(0.03, 6, 0.05, seed=2)) < 0.02
    assert equivalence_power(0.03, 6, 0.05, seed=3) == equivalence_power(0.03, 6, 0.05, seed=3)


def test_equivalence_power_is_the_share_of_simulated_runs_that_equivalence_confirms():
    sd, n, margin, effect = 0.03, 5, 0.05, 0.01
    runs = np.random.default_rng(7).normal(effect, sd, size=(4000, n))
    confirmed = np.mean([_equivalent(run, margin) is True for run in runs])
    assert equivalence_power(sd, n, margin, effect, draws=40_000, seed=7) == pytest.approx(confirmed, abs=0.02)
    assert np.isnan(equivalence_power(sd, 1, margin)) and np.isnan(equivalence_power(0.0, 5, margin))


def test_paired_difference_refuses_duplicate_rows_and_counts_a_seed_missing_from_one_arm():
    """A test audit's cases: duplicate (seed, arm) rows were averaged, and a seed missing from one
    arm was dropped, so fewer seeds than were run could decide."""
    df = pd.DataFrame({"seed": [0, 0, 1, 1, 2], "arm": ["a", "b", "a", "b", "a"], "v": [1.0, 0.5, 2.0, 1.0, 3.0]})
    gap = paired_difference(df, "v", "arm", "a", "b")
    assert gap.n == 2 and gap.missing == 1 and gap.mean == pytest.approx(0.75)
    twice = pd.concat([df, df.iloc[[0]]])
    with pytest.raises(ValueError, match=r"arm \['a'\] has several rows at seed \[0\]"):
        paired_difference(twice, "v", "arm", "a", "b")
    other = pd.concat([df, pd.DataFrame({"seed": [0, 0], "arm": ["c", "c"], "v": [9.0, 9.0]})])
    assert paired_difference(other, "v", "arm", "a", "b") == gap  # rows of other arms do not matter
    with_nan = df.assign(v=[1.0, np.nan, 2.0, 1.0, 3.0])
    assert paired_difference(with_nan, "v", "arm", "a", "b").missing == 2


def test_a_bounded_quantity_s_interval_stays_within_its_bounds():
    two = [0.5, 0.95]  # a Student-t interval over two values: 0.725 +/- 12.7 * 0.225
    assert mean_ci(two).hi > 1 and mean_ci(two).lo < 0
    ci = bounded_ci(two, (0, 1))
    assert 0 < ci.lo < 0.5 and 0.95 < ci.hi < 1 and ci.mean == pytest.approx(0.725) and ci.n == 2
    rho = bounded_ci([-0.9, -0.99, -0.5], (-1, 1))
    assert -1 < rho.lo < rho.mean < rho.hi < 1
    assert bounded_ci([1.0, 1.0, 1.0], (0, 1)) == mean_ci([1.0, 1.0, 1.0])  # no spread: as plain
    assert bounded_ci([0.3], (0, 1)).n == 1 and bounded_ci([0.3, np.nan, 0.5], (0, 1)).missing == 1
    near = bounded_ci([0.999, 0.98, 0.99], (0, 1))
    assert near.lo <= near.mean <= near.hi < 1


def test_ci_table_shows_seeds_per_row_and_no_interval_for_one_value():
    df = pd.DataFrame({"model": ["a", "a", "a", "b"], "test": ["id"] * 4, "acc": [0.5, 0.7, 0.6, 0.596]})
    table = ci_table(df, "model", "test", "acc", bounds=(0, 1))
    assert table.loc["b", "id"] == "0.596" and table.loc["b", "seeds"] == "1"
    assert table.loc["a", "seeds"] == "3" and table.loc["a", "id"].startswith("0.600 [")
    assert "nan" not in table.to_string()
    mixed = pd.concat([df, pd.DataFrame({"model": ["b"], "test": ["ood"], "acc": [0.4]}),
                       pd.DataFrame({"model": ["b"], "test": ["ood"], "acc": [0.5]})])
    assert ci_table(mixed, "model", "test", "acc").loc["b", "seeds"] == "1-2"
