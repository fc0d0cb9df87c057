"""Chapter 3: the paired-view generator, the theory's reference values, and a tiny sweep."""

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch

from clipbook import plots
from clipbook.data.views import ViewSpec, latent_spectrum, sample_views
from clipbook.evaluate.spectral import matching_accuracy
from clipbook.experiments import conditioning
from clipbook.learners import paired_views
from clipbook.training.loop import TrainConfig


def test_latent_spectrum_has_the_requested_condition_number():
    var = latent_spectrum(5, 16.0)
    assert var[0].item() == 1.0 and var.max() / var.min() == pytest.approx(16.0)
    ratios = var[1:] / var[:-1]
    torch.testing.assert_close(ratios, torch.full_like(ratios, ratios[0].item()))  # geometric
    torch.testing.assert_close(latent_spectrum(3, 1.0), torch.ones(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="at least 1"):
        latent_spectrum(3, 0.5)


def test_latent_covariance_is_the_one_asked_for():
    spec = ViewSpec(latent_dim=4, kappa_z=100.0, dim_a=10, dim_b=12, noise_std=0.0)
    views = sample_views([spec], [0], 100_000, "train")
    z = views.z[0].double()
    cov = z.T @ z / len(z)
    torch.testing.assert_close(torch.diagonal(cov), spec.variances.double(), rtol=0.02, atol=0)
    off = cov - torch.diag(torch.diagonal(cov))
    assert off.abs().max() < 0.02 * spec.variances[-1] ** 0.5  # independent coordinates


def test_views_embed_the_shared_latent_plus_noise():
    spec = ViewSpec(latent_dim=3, kappa_z=10.0, dim_a=8, dim_b=6, noise_std=0.1)
    v = sample_views([spec], [1], 20_000, "train")
    std = spec.variances.sqrt()
    for x, mixing in ((v.x_a, v.mixing_a), (v.x_b, v.mixing_b)):
        embedding = mixing[0] / std  # U: orthonormal columns
        torch.testing.assert_close(embedding.T @ embedding, torch.eye(3), atol=1e-5, rtol=0)
        residual = x[0] - v.z[0] @ embedding.T
        assert residual.std().item() == pytest.approx(0.1, rel=0.02)
    cross = v.x_a[0].T @ v.x_b[0] / 20_000  # only the latent is shared: U_A diag(var) U_B'
    expected = v.mixing_a[0] @ v.mixing_b[0].T
    assert (cross - expected).abs().max() < 0.02


def test_common_random_numbers_and_spec_major_order():
    specs = [ViewSpec(kappa_z=1.0), ViewSpec(kappa_z=50.0)]
    v = sample_views(specs, [0, 1], 64, "train")
    g = v.z / torch.stack([s.variances.sqrt() for s in specs]).repeat_interleave(2, 0).unsqueeze(1)
    torch.testing.assert_close(g[0], g[2])  # seed 0 under both specs: the same draws
    torch.testing.assert_close(v.mixing_a[1] / specs[0].variances.sqrt(), v.mixing_a[3] / specs[1].variances.sqrt())
    assert not torch.allclose(g[0], g[1])
    probe = sample_views(specs, [0, 1], 64, "id")
    assert not torch.allclose(probe.z[0], v.z[0])  # a fresh sample, the same embedding
    torch.testing.assert_close(probe.mixing_a, v.mixing_a)
    assert torch.equal(v.repeat(3).x_a[4:8], v.x_a)


def test_bad_specs_are_refused():
    with pytest.raises(ValueError, match="exceeds"):
        ViewSpec(latent_dim=40, dim_a=32)
    with pytest.raises(ValueError, match="share"):
        sample_views([ViewSpec(), ViewSpec(latent_dim=4)], [0], 8, "train")


def test_theory_reference_values():
    clean = ViewSpec(latent_dim=8, kappa_z=100.0, noise_std=0.0)
    assert conditioning.balanced_condition_number(clean) == pytest.approx(1.0)
    noisy = ViewSpec(latent_dim=2, kappa_z=4.0, noise_std=0.5)  # variances 1 and 1/4, noise 1/4
    assert conditioning.balanced_condition_number(noisy) == pytest.approx((1 / 1.25) / 0.5)
    iso = ViewSpec(latent_dim=8, kappa_z=1.0, noise_std=0.0)
    assert conditioning.balanced_weight_norm(iso) == pytest.approx(math.sqrt(8))
    # Weak directions need large gains: a balanced encoder of an ill-conditioned latent is larger.
    assert conditioning.balanced_weight_norm(clean) > 3 * conditioning.balanced_weight_norm(iso)


def test_quadratic_quartic_optimum_is_the_balanced_one():
    """The closed form behind ``balanced_condition_number``: minimize the many-negative loss
    per direction numerically and compare the learned scales."""
    spec = ViewSpec(latent_dim=3, kappa_z=9.0, noise_std=0.3)
    var = spec.variances.double()
    gains = torch.full((3,), 0.1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([gains], max_iter=500, tolerance_grad=1e-12, tolerance_change=1e-14)

    def closure():
        opt.zero_grad()
        p2 = gains ** 2
        loss = (-p2 * var + 0.5 * p2 ** 2 * (var + spec.noise_std ** 2) ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    scales = gains.detach().abs() * var.sqrt()  # singular values of R_A
    assert (scales.max() / scales.min()).item() == pytest.approx(conditioning.balanced_condition_number(spec), rel=1e-4)
    assert gains.detach().norm().item() == pytest.approx(conditioning.balanced_weight_norm(spec), rel=1e-4)


def test_within_ball_only_shrinks_what_leaves_it():
    w = torch.stack([torch.full((2, 2), 0.1), torch.full((2, 2), 10.0)])
    out = paired_views.within_ball(w, torch.tensor([1.0, 1.0]))
    torch.testing.assert_close(out[0], w[0])
    assert out[1].norm().item() == pytest.approx(1.0)
    torch.testing.assert_close(out[1] / out[1].norm(), w[1] / w[1].norm())


def test_init_is_common_across_settings_and_small():
    spec = ViewSpec(latent_dim=2, dim_a=4, dim_b=5)
    p = paired_views.init_encoders([0, 1], 3, spec, embed_dim=3, init_scale=0.01)
    assert p["image"].shape == (6, 3, 4) and p["text"].shape == (6, 3, 5)
    torch.testing.assert_close(p["image"][0], p["image"][2])
    torch.testing.assert_close(p["text"][1], p["text"][5])
    assert not torch.allclose(p["image"][0], p["image"][1])
    # scale / sqrt(d_in); the sample std of 72 Gaussian draws has a relative standard error of
    # 1 / sqrt(2 * 72) = 0.083, so four of them (0.33) pass every seed and fail a missing 1/sqrt(d_in) (x2)
    assert p["image"].std().item() == pytest.approx(0.01 / 2, rel=0.33)


def test_model_table_follows_the_sweep_order():
    table = conditioning.model_table([1.0, 10.0], [0.0, 1.0], [3, 4], inside_weights=[0.5])
    assert table.model.tolist() == list(range(10))
    assert table.negatives.tolist() == ["outside"] * 8 + ["inside"] * 2
    assert table.neg_weight.tolist() == [0.0] * 4 + [1.0] * 4 + [0.5] * 2
    assert table.kappa_z.tolist() == [1.0, 1.0, 10.0, 10.0] * 2 + [10.0] * 2  # inside: the largest kappa_z
    assert table.seed.tolist() == [3, 4] * 5


def test_summaries_of_a_known_trajectory():
    steps = [0, 10, 20, 30]
    cond = {0: [10.0, 1000.0, 100.0, 2.0], 1: [5.0, 6.0, 7.0, 8.0]}
    rows = [{"step": s, "model": m, "metric": "condition", "value": v} for m, vs in cond.items() for s, v in zip(steps, vs)]
    rows += [{"step": 30, "model": m, "metric": name, "value": val} for m in cond
             for name, val in (("effective_rank", 3.0 - m), ("ball_usage", 0.5))]
    rows += [{"step": s, "model": m, "metric": "alignment", "value": 0.1 * s / 30 + 0.01 * m} for m in cond for s in steps]
    meta = conditioning.model_table([100.0], [1.0, 0.0], [0])
    summary = conditioning.summarize_trajectories(pd.DataFrame(rows).merge(meta, on="model")).set_index("model")
    assert summary.loc[0, ["start", "peak", "peak_step", "final"]].tolist() == [10.0, 1000.0, 10, 2.0]
    assert summary.loc[1, ["peak", "final", "effective_rank"]].tolist() == [8.0, 8.0, 2.0]
    assert summary.loc[0, "log10_peak"] == pytest.approx(3.0)
    # alignment at the peak: model 0 peaks at step 10 (0.1 * 10 / 30), model 1 at 30 (0.1 + 0.01)
    assert summary.alignment_at_peak.tolist() == pytest.approx([1 / 30, 0.11])
    assert summary.alignment.tolist() == pytest.approx([0.1, 0.11])


def test_claim_statistics_need_both_ends_of_the_sweep():
    final = pd.DataFrame({"negatives": "outside", "kappa_z": 10.0, "neg_weight": [0.5, 1.0], "seed": 0,
                          "log10_final": 0.0})
    with pytest.raises(ValueError, match="neg_weight 0 and 1"):
        conditioning.claim_statistics(final)


TINY_SPEC = ViewSpec(latent_dim=4, dim_a=8, dim_b=8, noise_std=0.02)
TINY_CONFIG = TrainConfig(steps=600, batch_size=64, lr=0.25, optimizer="sgd", log_every=20)
TINY = dict(n_train=512, n_probe=256, embed_dim=4, init_scale=0.01, norm_budget=2.0, config=TINY_CONFIG,
            device=torch.device("cpu"))


@pytest.fixture(scope="module")
def tiny_sweep():
    return conditioning.run_sweep(TINY_SPEC, [10.0], [0.0, 0.5, 1.0], [0, 1, 2], inside_weights=[0.5], **TINY)


def test_negatives_inside_keep_the_loss_bounded(tiny_sweep):
    """Weighted inside the normalizer, the negatives keep the encoder off the ball's edge, where the
    same weight outside leaves the loss unbounded and the ball binds."""
    usage = tiny_sweep.results.set_index(["negatives", "neg_weight", "seed"]).sort_index().ball_usage
    assert (usage["inside", 0.5] < 1).all() and (usage["outside", 0.5] > 1).all()


def test_switched_run_follows_clip_until_the_switch(tiny_sweep):
    """Phase one of the switched run is CLIP's run of the sweep (same data, start and batches);
    without negatives the condition number then climbs, and it falls again once they return."""
    switched = conditioning.run_switch(TINY_SPEC, 10.0, [0, 1, 2], [(100, 1.0), (200, 0.0), (300, 1.0)], **TINY)
    assert switched.step.max() == 600 and not switched.duplicated(["step", "seed", "metric"]).any()
    assert switched.groupby("step").neg_weight.first()[[100, 120, 300, 320]].tolist() == [1.0, 0.0, 0.0, 1.0]
    history = tiny_sweep.history
    clip = history[(history.negatives == "outside") & (history.neg_weight == 1.0) & (history.metric == "condition")]
    clip, ours = (frame.set_index(["seed", "step"]) for frame in (clip, switched[switched.metric == "condition"]))
    early = [(s, t) for s in (0, 1, 2) for t in (0, 20, 100)]
    torch.testing.assert_close(torch.tensor(ours.value[early].to_numpy()), torch.tensor(clip.value[early].to_numpy()),
                               rtol=1e-4, atol=0)
    stats = conditioning.switch_statistics(switched, history, 10.0, off=100, on=300)
    assert stats["off_window"].mean > stats["clip_window"].mean and stats["restart"].mean < 0


def test_negatives_end_better_conditioned_than_positives_only(tiny_sweep):
    results = tiny_sweep.results[tiny_sweep.results.negatives == "outside"]
    final = results.pivot(index="seed", columns="neg_weight", values="final")
    assert (final[1.0] < 2.0).all()  # balanced: the theory's optimum is 1.0 here
    assert (final[0.0] > 100 * final[1.0]).all()  # positives only: one direction takes the norm
    rank = results.pivot(index="seed", columns="neg_weight", values="effective_rank")
    assert (rank[1.0] > 3.5).all() and (rank[0.0] < 1.5).all()
    usage = results.pivot(index="seed", columns="neg_weight", values="ball_usage")
    assert (usage[1.0] < 1).all() and (usage[0.0] > 1).all()  # the ball binds only without negatives


def test_readout_table(tiny_sweep):
    table = conditioning.readout_table(tiny_sweep.results, 10.0)
    assert table.index.tolist() == [0.0, 0.5, 1.0]
    assert list(table.columns) == ["log10 condition number", "effective rank", "norm / ball radius"]
    mean, interval = table.loc[1.0, "effective rank"].split(" [")
    assert float(mean) == pytest.approx(4, abs=0.1) and interval.endswith("]")  # balanced: all 4 directions


def test_clip_condition_number_rises_then_falls(tiny_sweep):
    clip = tiny_sweep.results[tiny_sweep.results.neg_weight == 1.0]
    assert (clip.peak > 5 * clip.start).all() and (clip.final < clip.start).all()
    stats = conditioning.claim_statistics(tiny_sweep.results)
    assert stats["rise"].mean > np.log10(5) and stats["collapse"].lo > 2
    assert stats["trend"].n == 0 and np.isnan(stats["trend"].mean)  # one weight below 1 besides 0: nothing to order


def test_the_trend_orders_the_weights_below_clips_only():
    """Seed 0 falls steadily below weight 1 (rho -1), seed 1 rises (rho +1), seed 2 is mixed;
    CLIP's weight 1 has the lowest value everywhere and must not count (with it, seed 1 would be 0)."""
    weights = [0.0, 0.03, 0.1, 0.3, 1.0]
    finals = {0: [9, 8, 7, 6, 0], 1: [6, 7, 8, 9, 0], 2: [7, 9, 8, 6, 0]}
    rows = [{"negatives": "outside", "kappa_z": 10.0, "neg_weight": w, "seed": seed, "log10_final": v,
             "final": 10.0 ** v, "log10_peak": 2.0, "log10_start": 0.0, "alignment_at_peak": 0.9, "alignment": 1.0,
             "shifted_matching": 1.0 / (1 + v)}
            for seed, values in finals.items() for w, v in zip(weights, values)]
    stats = conditioning.claim_statistics(pd.DataFrame(rows))
    # seed 2: ranks of (7, 9, 8, 6) are (2, 4, 3, 1) against (1, 2, 3, 4): d^2 = 1 + 4 + 0 + 9 = 14,
    # rho = 1 - 6 * 14 / (4 * 15) = -0.4
    assert stats["trend"].mean == pytest.approx((-1 + 1 - 0.4) / 3) and stats["trend"].n == 3


def test_positive_pairs_align_the_views_early(tiny_sweep):
    align = conditioning.curves(tiny_sweep.history, "alignment", 10.0)
    start = align[align.step == 0].set_index(["neg_weight", "seed"]).value
    early = align[align.step == 100].set_index(["neg_weight", "seed"]).value
    assert abs(start.mean()) < 0.5 and early.min() > 0.9 and (early > start).all()  # random encoders: unaligned


def test_singular_value_curves_and_heatmap(tiny_sweep):
    sv = conditioning.singular_value_curves(tiny_sweep.history, 10.0, 1.0)
    assert sorted(sv.direction.unique()) == [1, 2, 3, 4]
    first = sv[sv.step == 0].groupby("direction").value.mean()
    assert first.is_monotonic_decreasing  # sorted, largest first
    fig, ax = plt.subplots()
    plots.heatmap(tiny_sweep.results, "kappa_z", "neg_weight", "log10_final", ax=ax, fmt=".1f")
    assert len(ax.texts) == 3 and [t.get_text() for t in ax.get_xticklabels()] == ["0.0", "0.5", "1.0"]
    plt.close(fig)


def test_the_shifted_world_unpairs_only_the_strongest_quarter():
    """The caption view redraws the strongest quarter of the latent; the image view and every other
    draw stay as they were (common random numbers with the unshifted world)."""
    spec = ViewSpec(latent_dim=8, dim_a=16, dim_b=16, noise_std=0.0)
    plain, shifted = (sample_views([s], [3], 2000, "ood") for s in (spec, spec.shifted()))
    assert spec.shifted().unpaired == 2
    torch.testing.assert_close(shifted.x_a, plain.x_a)
    latent_b = shifted.x_b[0] @ torch.linalg.pinv(shifted.mixing_b[0]).T  # the caption's standardized latent
    latent_a = plain.x_a[0] @ torch.linalg.pinv(plain.mixing_a[0]).T
    agreement = (latent_a * latent_b).mean(0)
    assert agreement[:2].abs().max() < 0.1 and agreement[2:].min() > 0.95
    with pytest.raises(ValueError, match="unpaired"):
        ViewSpec(latent_dim=4, unpaired=4)


def test_matching_accuracy_counts_own_partners_first():
    a = torch.eye(4).repeat(2, 1).unsqueeze(0)  # 8 samples, groups of 4: each row matches itself
    assert matching_accuracy(a, a, 4).item() == 1.0
    shuffled = a[:, [1, 0, 2, 3, 4, 5, 6, 7]]  # two of the first group's partners swapped
    assert matching_accuracy(a, shuffled, 4).item() == 0.75
    with pytest.raises(ValueError, match="no group"):
        matching_accuracy(a, a, 16)


def test_balanced_models_match_best_in_the_shifted_world(tiny_sweep):
    """CLIP's balanced representation matches better than the collapsed positives-only one, in the
    training world and in the shifted one, on every seed (the read-out claim g rests on)."""
    results = tiny_sweep.results[tiny_sweep.results.negatives == "outside"]
    for column in ("matching", "shifted_matching"):
        table = results.pivot(index="seed", columns="neg_weight", values=column)
        assert (table[1.0] > table[0.0] + 0.1).all() and table.to_numpy().max() <= 1
    stats = conditioning.claim_statistics(tiny_sweep.results)
    assert stats["shift_trend"].mean < 0


def test_matching_table_reads_both_ways_of_weighting(tiny_sweep):
    table = conditioning.matching_table(tiny_sweep.results, 10.0)
    assert table.index.tolist() == [("inside", 0.5), ("outside", 0.0), ("outside", 0.5), ("outside", 1.0)]
    assert list(table.columns) == ["log10 condition number", "matching, training world", "matching, shifted world"]
