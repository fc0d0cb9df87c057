"""The statistics that decide each chapter's claims, pinned to independently worked-out values.

A chapter's verdicts ("reproduced" / "not reproduced") are read off a handful of functions that
reduce a results table to intervals over seeds. The other tests check that these functions run
and return the right keys; replacing their outputs with constants left those tests passing. Here
every function gets a tiny hand-built table (two or three seeds, a few settings, rows shuffled) whose
cells are chosen so that each returned statistic has its own value, worked out by hand in the
comments and checked against numpy/scipy applied directly -- never against the implementation.
A swapped statistic, a wrong column, a wrong sign, an unpaired instead of a paired difference,
a wrong setting (the lowest instead of the highest share probability, ...) or a constant fails.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from clipbook.evaluate.stats import Interval
from clipbook.experiments import conditioning, disentanglement, diversity, imbalance, intra_class
from clipbook.experiments import feature_sharing as fs

SEEDS = (0, 1, 2)
TOL = 1e-9  # float64 rounding of sums and differences of O(1) numbers is ~1e-15; every value checked differs by >= 1e-3


# ---------------------------------------------------------------- helpers

def t_interval(values) -> tuple[float, float, float, int]:
    """Mean and 95% Student-t interval worked out directly: mean -/+ t(0.975, n-1) * sd / sqrt(n)."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    half = stats.t.ppf(0.975, n - 1) * x.std(ddof=1) / np.sqrt(n)
    return float(x.mean()), float(x.mean() - half), float(x.mean() + half), n


def assert_interval(actual, values) -> None:
    """``actual`` is the 95% t-interval of ``values`` (per-seed numbers worked out by hand)."""
    mean, lo, hi, n = t_interval(values)
    assert hi - lo > 1e-3, "a test case must have spread, or a constant interval would pass"
    assert isinstance(actual, Interval)
    assert actual.n == n
    assert actual.mean == pytest.approx(mean, abs=TOL)
    assert (actual.lo, actual.hi) == pytest.approx((lo, hi), abs=TOL)


def long_frame(table: dict, keys: tuple[str, ...], seeds=SEEDS, shuffle: int | None = 0) -> pd.DataFrame:
    """One row per (setting, seed) from ``{setting tuple: {column: [value per seed]}}``; rows shuffled
    so that nothing can rely on the order a sweep happens to write them in."""
    rows = [dict(zip(keys, setting)) | {"seed": seed} | {c: v[i] for c, v in columns.items()}
            for setting, columns in table.items() for i, seed in enumerate(seeds)]
    frame = pd.DataFrame(rows)
    return frame if shuffle is None else frame.sample(frac=1, random_state=shuffle)


# ---------------------------------------------------------------- Chapter 1: intra-class contrasting

MMCL, CLASS_ONLY, SPURIOUS, SL1 = intra_class.MMCL, intra_class.MMCL_CLASS_ONLY, intra_class.MMCL_SPURIOUS, intra_class.SL


def _ch1(id_accuracy, ood_accuracy, spurious_share) -> dict:
    return {"id_accuracy": id_accuracy, "ood_accuracy": ood_accuracy, "spurious_share": spurious_share}


CH1 = {  # (method, core_std, spurious_std): ID accuracy, OOD accuracy, spurious share; per seed 0, 1, 2
    # the core-std sweep, at spurious std 0.1
    (MMCL, 0.5, 0.1): _ch1([0.90, 0.92, 0.94], [0.80, 0.78, 0.70], [0.10, 0.20, 0.15]),
    (MMCL, 1.0, 0.1): _ch1([0.85, 0.86, 0.87], [0.75, 0.76, 0.77], [0.30, 0.20, 0.40]),
    (MMCL, 2.0, 0.1): _ch1([0.83, 0.88, 0.99], [0.80, 0.85, 0.95], [0.05, 0.10, 0.45]),
    (CLASS_ONLY, 0.5, 0.1): _ch1([0.70, 0.71, 0.72], [0.69, 0.66, 0.60], [0.50, 0.55, 0.60]),
    (CLASS_ONLY, 1.0, 0.1): _ch1([0.74, 0.75, 0.76], [0.70, 0.71, 0.69], [0.65, 0.60, 0.70]),
    (CLASS_ONLY, 2.0, 0.1): _ch1([0.78, 0.79, 0.80], [0.70, 0.72, 0.80], [0.75, 0.80, 0.85]),
    (SPURIOUS, 0.5, 0.1): _ch1([0.88, 0.89, 0.90], [0.81, 0.82, 0.83], [0.20, 0.25, 0.30]),
    (SPURIOUS, 1.0, 0.1): _ch1([0.86, 0.87, 0.88], [0.78, 0.77, 0.76], [0.60, 0.65, 0.70]),
    (SPURIOUS, 2.0, 0.1): _ch1([0.84, 0.85, 0.86], [0.75, 0.74, 0.70], [0.70, 0.75, 0.80]),
    (SL1, 0.5, 0.1): _ch1([0.95, 0.96, 0.97], [0.40, 0.50, 0.45], [0.90, 0.80, 0.50]),
    (SL1, 1.0, 0.1): _ch1([0.93, 0.94, 0.95], [0.55, 0.60, 0.52], [0.60, 0.70, 0.70]),
    (SL1, 2.0, 0.1): _ch1([0.91, 0.92, 0.93], [0.60, 0.70, 0.65], [0.30, 0.20, 0.40]),
    # the spurious-std sweep at core std 2.0 (its spurious std 0.1 is the row above); its other
    # rows hold values that would change every core-sweep statistic if they were mixed in
    (MMCL, 2.0, 0.5): _ch1([0.50, 0.51, 0.52], [0.78, 0.80, 0.90], [0.90, 0.91, 0.92]),
    (SL1, 2.0, 0.5): _ch1([0.60, 0.62, 0.64], [0.70, 0.62, 0.50], [0.01, 0.02, 0.03]),
    (MMCL, 2.0, 2.0): _ch1([0.55, 0.56, 0.57], [0.75, 0.79, 0.88], [0.93, 0.94, 0.95]),
    (SL1, 2.0, 2.0): _ch1([0.65, 0.66, 0.67], [0.72, 0.70, 0.70], [0.04, 0.05, 0.06]),
}


def test_intra_class_contrast_sweep_keeps_the_largest_core_std_with_its_variance_ratio():
    results = pd.DataFrame({"core_std": [1.0, 3.0, 3.0], "spurious_std": [0.5, 0.5, 0.25], "seed": 0})
    sweep = intra_class.contrast_sweep(results)
    # (3 / 0.5)^2 = 36 and (3 / 0.25)^2 = 144
    assert sweep.spurious_std.tolist() == [0.5, 0.25] and sweep.variance_ratio.tolist() == [36.0, 144.0]


def test_intra_class_claim_statistics():
    stats_ = intra_class.claim_statistics(long_frame(CH1, ("method", "core_std", "spurious_std")), spurious_std=0.1)
    assert set(stats_) == {"advantage", "sl_share_trend", "mmcl_share_max", "class_only_advantage", "class_only_loss",
                           "drop_mmcl", "drop_sl", "id_cost", "spurious_captions_advantage", "contrast_trend"}
    # OOD accuracy at core_std 2.0, MMCL - SL per seed: .80-.60, .85-.70, .95-.65
    assert_interval(stats_["advantage"], [0.20, 0.15, 0.30])
    # SL's share over core_std (0.5, 1, 2): seed 0 (.9, .6, .3) and seed 1 (.8, .7, .2) fall: rho -1;
    # seed 2 (.5, .7, .4) ranks (2, 3, 1): rho = 1 - 6 * (1 + 1 + 4) / (3 * 8) = -0.5
    assert_interval(stats_["sl_share_trend"], [-1.0, -1.0, -0.5])
    # MMCL's mean share by core_std: 0.15, 0.30, 0.20 -> the largest is at core_std 1.0 (not at the
    # largest core_std, nor where the single largest value 0.45 sits)
    assert_interval(stats_["mmcl_share_max"], [0.30, 0.20, 0.40])
    # class-only MMCL - SL, OOD at core_std 2.0: .70-.60, .72-.70, .80-.65
    assert_interval(stats_["class_only_advantage"], [0.10, 0.02, 0.15])
    # MMCL - class-only MMCL, OOD at core_std 2.0: .80-.70, .85-.72, .95-.80
    assert_interval(stats_["class_only_loss"], [0.10, 0.13, 0.15])
    # ID - OOD at core_std 0.5: MMCL .90-.80, .92-.78, .94-.70; SL .95-.40, .96-.50, .97-.45
    assert_interval(stats_["drop_mmcl"], [0.10, 0.14, 0.24])
    assert_interval(stats_["drop_sl"], [0.55, 0.46, 0.52])
    # ID at core_std 2.0, SL - MMCL: .91-.83, .92-.88, .93-.99
    assert_interval(stats_["id_cost"], [0.08, 0.04, -0.06])
    # OOD at core_std 2.0, MMCL with the spurious feature in its captions - SL: .75-.60, .74-.70, .70-.65
    assert_interval(stats_["spurious_captions_advantage"], [0.15, 0.04, 0.05])
    # MMCL - SL over spurious std (0.1, 0.5, 2) at core std 2.0: seed 0 (.20, .08, .03) falls: -1;
    # seed 1 (.15, .18, .09) and seed 2 (.30, .40, .18) rank (2, 3, 1): -0.5
    assert_interval(stats_["contrast_trend"], [-1.0, -0.5, -0.5])


# ---------------------------------------------------------------- Chapter 2: feature sharing

ANNOTATED, PLAIN, SL2 = fs.MMCL_ANNOTATED, fs.MMCL_PLAIN, fs.SL
SHARING = {  # (method, prompt, share_prob): per seed
    (ANNOTATED, "class_core", 0.0): dict(ood_accuracy=[0.50, 0.55, 0.60], detail_share=[0.10, 0.10, 0.20]),
    (ANNOTATED, "class_core", 0.5): dict(ood_accuracy=[0.65, 0.70, 0.62], detail_share=[0.20, 0.40, 0.10]),
    (ANNOTATED, "class_core", 1.0): dict(ood_accuracy=[0.80, 0.90, 0.85], detail_share=[0.60, 0.20, 0.30]),
    (PLAIN, "class_core", 0.0): dict(ood_accuracy=[0.50, 0.52, 0.58], detail_share=[0.50, 0.50, 0.50]),
    (PLAIN, "class_core", 0.5): dict(ood_accuracy=[0.49, 0.51, 0.59], detail_share=[0.40, 0.40, 0.40]),
    (PLAIN, "class_core", 1.0): dict(ood_accuracy=[0.45, 0.50, 0.60], detail_share=[0.30, 0.30, 0.30]),
    (SL2, "supervised", 0.0): dict(ood_accuracy=[0.70, 0.72, 0.74], detail_share=[0.60, 0.60, 0.60]),
    (SL2, "supervised", 0.5): dict(ood_accuracy=[0.65, 0.69, 0.70], detail_share=[0.70, 0.80, 0.90]),
    (SL2, "supervised", 1.0): dict(ood_accuracy=[0.60, 0.66, 0.62], detail_share=[0.65, 0.75, 0.95]),
    # the other prompt design: OOD falls by 0.1 and the share falls, for both MMCL curves
    **{(m, "mean_caption", s): dict(ood_accuracy=[0.3 + 0.1 * i - 0.1 * s for i in range(3)],
                                    detail_share=[0.9 - 0.5 * s] * 3)
       for m in (ANNOTATED, PLAIN) for s in (0.0, 0.5, 1.0)},
}
CAPTION_OOD = {  # class_core prompt, (share_prob, caption): per seed
    (0.2, fs.CLASS_ONLY): [0.45, 0.50, 0.40], (0.8, fs.CLASS_ONLY): [0.50, 0.60, 0.55],
    (0.2, "+ core details"): [0.55, 0.52, 0.50], (0.8, "+ core details"): [0.60, 0.65, 0.75],
    (0.2, "+ spurious details"): [0.35, 0.40, 0.30], (0.8, "+ spurious details"): [0.40, 0.58, 0.54],
    (0.2, "+ background details"): [0.46, 0.49, 0.44], (0.8, "+ background details"): [0.52, 0.60, 0.58],
    (0.2, fs.ALL_DETAILS): [0.60, 0.58, 0.49], (0.8, fs.ALL_DETAILS): [0.70, 0.75, 0.80],
}
CAPTION_GAIN = {  # the same minus class-only, by hand
    (0.2, "+ core details"): [0.10, 0.02, 0.10], (0.8, "+ core details"): [0.10, 0.05, 0.20],
    (0.2, "+ spurious details"): [-0.10, -0.10, -0.10], (0.8, "+ spurious details"): [-0.10, -0.02, -0.01],
    (0.2, "+ background details"): [0.01, -0.01, 0.04], (0.8, "+ background details"): [0.02, 0.00, 0.03],
    (0.2, fs.ALL_DETAILS): [0.15, 0.08, 0.09], (0.8, fs.ALL_DETAILS): [0.20, 0.15, 0.25],
}
MEAN_CAPTION_GAIN = {fs.CLASS_ONLY: 0.0, "+ core details": 0.01, "+ spurious details": 0.02,
                     "+ background details": 0.03, fs.ALL_DETAILS: 0.04}


def _feature_sharing_results() -> pd.DataFrame:
    sharing = long_frame(SHARING, ("method", "prompt", "share_prob"), shuffle=None).assign(
        experiment="sharing", caption=fs.SHARING_CAPTION)
    sharing.loc[sharing.method == SL2, "caption"] = "label"
    captions = {("class_core", s, kind): dict(ood_accuracy=ood, detail_share=[0.5] * 3)
                for (s, kind), ood in CAPTION_OOD.items()}
    captions |= {("mean_caption", s, kind): dict(ood_accuracy=[0.3 + gain] * 3, detail_share=[0.5] * 3)
                 for kind, gain in MEAN_CAPTION_GAIN.items() for s in (0.2, 0.8)}
    caption_rows = long_frame(captions, ("prompt", "share_prob", "caption"), shuffle=None).assign(
        experiment="captions", method="MMCL")
    frame = pd.concat([sharing, caption_rows], ignore_index=True)
    return frame.assign(id_accuracy=0.99).sample(frac=1, random_state=1)


def test_feature_sharing_sharing_results_keeps_the_sharing_sweep_for_one_prompt():
    results = _feature_sharing_results()
    for prompt in ("class_core", "mean_caption"):
        kept = fs.sharing_results(results, prompt)
        expected = {("sharing", ANNOTATED, prompt), ("sharing", PLAIN, prompt), ("sharing", SL2, "supervised")}
        assert set(zip(kept.experiment, kept.method, kept.prompt)) == expected
        assert len(kept) == 3 * 3 * 3  # three curves x three share probabilities x three seeds
        assert kept.equals(results.loc[kept.index])  # rows kept whole
    assert len(fs.sharing_results(results)) == 27 and set(fs.sharing_results(results).prompt) == {"class_core",
                                                                                                    "supervised"}


def test_feature_sharing_caption_gains_are_paired_differences_from_class_only():
    results = _feature_sharing_results()
    gains = fs.caption_gains(results).sort_values(["share_prob", "caption", "seed"]).reset_index(drop=True)
    assert list(gains.columns) == ["share_prob", "seed", "caption", "ood_gain"]
    expected = pd.DataFrame([{"share_prob": s, "caption": kind, "seed": seed, "ood_gain": g[i]}
                             for (s, kind), g in CAPTION_GAIN.items() for i, seed in enumerate(SEEDS)])
    expected = expected.sort_values(["share_prob", "caption", "seed"]).reset_index(drop=True)
    assert gains[["share_prob", "caption", "seed"]].equals(expected[["share_prob", "caption", "seed"]])
    np.testing.assert_allclose(gains.ood_gain, expected.ood_gain, rtol=0, atol=TOL)
    other = fs.caption_gains(results, "mean_caption")
    assert len(other) == 2 * 4 * 3
    np.testing.assert_allclose(other.ood_gain, other.caption.map(MEAN_CAPTION_GAIN), rtol=0, atol=TOL)


def test_feature_sharing_claim_statistics():
    stats_ = fs.claim_statistics(_feature_sharing_results())
    assert set(stats_) == {"sharing_vs_sl", "sharing_vs_plain", "gain_annotated", "gain_sl", "detail_share_trend",
                           "share_drop_vs_plain", "core", "spurious", "background", "all"}
    # OOD at share_prob 1 minus at 0, per seed: annotated (.80-.50, .90-.55, .85-.60),
    # plain (.45-.50, .50-.52, .60-.58), SL (.60-.70, .66-.72, .62-.74)
    gain_annotated, gain_plain, gain_sl = [0.30, 0.35, 0.25], [-0.05, -0.02, 0.02], [-0.10, -0.06, -0.12]
    assert_interval(stats_["gain_annotated"], gain_annotated)
    assert_interval(stats_["gain_sl"], gain_sl)
    assert_interval(stats_["sharing_vs_sl"], [0.40, 0.41, 0.37])
    assert_interval(stats_["sharing_vs_plain"], [0.35, 0.37, 0.23])
    assert np.subtract(gain_annotated, gain_sl) == pytest.approx([0.40, 0.41, 0.37])  # the hand arithmetic
    assert np.subtract(gain_annotated, gain_plain) == pytest.approx([0.35, 0.37, 0.23])
    # annotated share over share_prob (0, .5, 1): seed 0 (.1, .2, .6) rho 1; seed 1 (.1, .4, .2) and
    # seed 2 (.2, .1, .3) swap one neighbouring pair: rho = 1 - 6 * 2 / 24 = 0.5 (unevenly spaced
    # values, so Pearson's r would differ)
    assert_interval(stats_["detail_share_trend"], [1.0, 0.5, 0.5])
    # the share's change from share_prob 0 to 1: annotated (.6-.1, .2-.1, .3-.2), plain -.2 on every seed
    assert_interval(stats_["share_drop_vs_plain"], [0.7, 0.3, 0.3])
    # caption gains over class-only at the largest caption share probability (0.8)
    assert_interval(stats_["core"], CAPTION_GAIN[0.8, "+ core details"])
    assert_interval(stats_["spurious"], CAPTION_GAIN[0.8, "+ spurious details"])
    assert_interval(stats_["background"], CAPTION_GAIN[0.8, "+ background details"])
    assert_interval(stats_["all"], CAPTION_GAIN[0.8, fs.ALL_DETAILS])


def test_feature_sharing_statistics_read_the_prompt_they_are_given():
    results = _feature_sharing_results()
    stats_ = fs.claim_statistics(results, "mean_caption")
    # the mean-caption rows of the fixture: every caption kind's gain is a constant, annotated MMCL
    # falls by 0.1 from share_prob 0 to 1 on every seed, unannotated MMCL by as much
    assert stats_["gain_annotated"].mean == pytest.approx(-0.1) and stats_["sharing_vs_plain"].mean == pytest.approx(0)
    for kind, key in (("+ core details", "core"), ("+ background details", "background"), (fs.ALL_DETAILS, "all")):
        assert stats_[key].mean == pytest.approx(MEAN_CAPTION_GAIN[kind])
    assert fs.sharing_statistics(results, "mean_caption") == {k: v for k, v in stats_.items()
                                                              if k not in ("core", "spurious", "background", "all")}


def test_feature_sharing_sharing_statistics_need_no_caption_sweep():
    results = _feature_sharing_results()
    sharing_only = fs.sharing_statistics(results[results.experiment == "sharing"])
    assert sharing_only == {k: v for k, v in fs.claim_statistics(results).items()
                            if k not in ("core", "spurious", "background", "all")}


# ---------------------------------------------------------------- Chapter 3: pair-driven conditioning

CH3 = {  # (kappa_z, neg_weight): per seed; final condition numbers chosen so their ratios are round
    (100.0, 1.0): dict(log10_start=[0.1, 0.2, 0.3], log10_peak=[1.1, 1.5, 1.6], final=[10.0, 20.0, 40.0],
                       effective_rank=[2.9, 2.7, 3.0], ball_usage=[0.40, 0.45, 0.35]),
    (100.0, 0.3): dict(log10_start=[0.1, 0.2, 0.3], log10_peak=[1.8, 1.9, 2.4], final=[50.0, 300.0, 60.0],
                       effective_rank=[1.8, 2.1, 2.2], ball_usage=[0.60, 0.65, 0.50]),
    (100.0, 0.1): dict(log10_start=[0.1, 0.2, 0.3], log10_peak=[2.0, 2.2, 2.1], final=[100.0, 500.0, 35.0],
                       effective_rank=[1.5, 1.9, 1.6], ball_usage=[0.80, 0.85, 0.70]),
    (100.0, 0.0): dict(log10_start=[0.1, 0.2, 0.3], log10_peak=[3.0, 2.7, 3.9], final=[1000.0, 400.0, 8000.0],
                       effective_rank=[1.0, 1.1, 1.3], ball_usage=[0.95, 1.00, 0.98]),
    (10.0, 1.0): dict(log10_start=[0.0, 0.0, 0.1], log10_peak=[0.5, 0.4, 0.6], final=[3.0, 4.0, 5.0],
                      effective_rank=[3.0, 3.1, 3.2], ball_usage=[0.30, 0.20, 0.25]),
    (10.0, 0.3): dict(log10_start=[0.0, 0.0, 0.1], log10_peak=[0.6, 0.7, 0.7], final=[4.0, 4.5, 6.0],
                      effective_rank=[2.7, 2.8, 2.6], ball_usage=[0.40, 0.45, 0.35]),
    (10.0, 0.1): dict(log10_start=[0.0, 0.0, 0.1], log10_peak=[0.7, 0.8, 0.6], final=[5.0, 5.0, 8.0],
                      effective_rank=[2.5, 2.6, 2.4], ball_usage=[0.50, 0.55, 0.60]),
    (10.0, 0.0): dict(log10_start=[0.0, 0.0, 0.1], log10_peak=[0.9, 1.0, 1.2], final=[6.0, 9.0, 7.0],
                      effective_rank=[2.0, 2.2, 1.8], ball_usage=[0.90, 0.90, 0.80]),
}


CH3_INSIDE = {  # (kappa_z, neg_weight) with the negatives weighted inside the log-sum-exp; two weights
    # shared with the table above, so a statistic that mixes the families changes
    (100.0, w): dict(log10_start=[0.1, 0.2, 0.3], log10_peak=[1.0, 1.0, 1.0], final=final,
                     effective_rank=[2.0, 2.0, 2.0], ball_usage=[0.5, 0.5, 0.5])
    for w, final in ((0.03, [30.0, 12.0, 50.0]), (0.1, [20.0, 15.0, 45.0]), (0.3, [25.0, 11.0, 40.0]))
}
CH3_ALIGNMENT = {  # (kappa_z, neg_weight) -> (alignment at the peak, final alignment) per seed; 0.5, 0.6 elsewhere
    (100.0, 1.0): ([0.90, 0.76, 0.96], [1.00, 0.95, 0.96]),
    (10.0, 1.0): ([0.50, 0.70, 0.80], [1.00, 1.00, 1.00]),
}


def _conditioning_final(table=CH3) -> pd.DataFrame:
    frame = pd.concat([long_frame(table, ("kappa_z", "neg_weight")).assign(negatives="outside"),
                       long_frame(CH3_INSIDE, ("kappa_z", "neg_weight"), shuffle=1).assign(negatives="inside")])
    frame = frame.sample(frac=1, random_state=2)
    at_peak, final = ({k: v[i] for k, v in CH3_ALIGNMENT.items()} for i in (0, 1))
    seed_index = frame.seed.map(SEEDS.index)

    def alignment(table, default):
        return [table.get((k, w), [default] * 3)[i] if n == "outside" else default
                for k, w, n, i in zip(frame.kappa_z, frame.neg_weight, frame.negatives, seed_index)]

    # the shifted world's matching falls with the condition number, except seed 2's CLIP, matched worst
    matching = (1 / frame.final).where(~((frame.seed == SEEDS[2]) & (frame.neg_weight == 1.0)
                                         & (frame.negatives == "outside")), 0.0)
    return frame.assign(log10_final=np.log10(frame.final), start=10 ** frame.log10_start, peak=10 ** frame.log10_peak,
                        alignment_at_peak=alignment(at_peak, 0.5), alignment=alignment(final, 0.6),
                        shifted_matching=matching)


def test_conditioning_claim_statistics_at_the_largest_kappa_by_default():
    stats_ = conditioning.claim_statistics(_conditioning_final())
    assert set(stats_) == {"rise", "aligned_at_peak", "clip_final", "collapse", "trend", "inside_trend", "shift_trend"}
    # CLIP (neg_weight 1) at kappa_z 100: log10 peak - log10 start = 1.1-.1, 1.5-.2, 1.6-.3
    assert_interval(stats_["rise"], [1.0, 1.3, 1.3])
    # CLIP's alignment at its peak over its final alignment: .90/1, .76/.95, .96/.96
    assert_interval(stats_["aligned_at_peak"], [0.9, 0.8, 1.0])
    assert_interval(stats_["clip_final"], [10.0, 20.0, 40.0])  # the condition number itself, not its log
    # final without negatives over final with CLIP: 1000/10, 400/20, 8000/40 = 100, 20, 200
    assert_interval(stats_["collapse"], np.log10([100.0, 20.0, 200.0]))
    # final over the weights below CLIP's (0, .1, .3): seed 0 (1000, 100, 50) falls: rho -1; seed 1
    # (400, 500, 300) ranks (2, 3, 1): 1 - 6 * (1 + 1 + 4) / 24 = -0.5; seed 2 (8000, 35, 60) ranks
    # (3, 1, 2): -0.5. With weight 1 counted, seed 1 would give -0.8.
    assert_interval(stats_["trend"], [-1.0, -0.5, -0.5])
    # negatives inside, over (.03, .1, .3): seed 0 (30, 20, 25) ranks (3, 1, 2): -0.5; seed 1
    # (12, 15, 11) ranks (2, 3, 1): -0.5; seed 2 (50, 45, 40) falls: -1
    assert_interval(stats_["inside_trend"], [-0.5, -0.5, -1.0])
    # every model at kappa_z 100 (4 outside, 3 inside): matching is 1 / final, so rho -1 for seeds 0
    # and 1; seed 2's CLIP matches worst (0): finals 35, 40 (CLIP), 40, 45, 50, 60, 8000 rank 1, 2.5,
    # 2.5, 4, 5, 6, 7 against matching ranks 7, 1, 6, 5, 4, 3, 2: Pearson of the ranks -0.5586
    assert_interval(stats_["shift_trend"], [-1.0, -1.0, -0.5585812268712466])


def test_conditioning_claim_statistics_with_only_clip_and_no_negatives():
    final = _conditioning_final()
    stats_ = conditioning.claim_statistics(final[final.neg_weight.isin([0.0, 1.0])])
    assert stats_["trend"].n == 0 and stats_["clip_final"].n == 3  # no trend from one weight below 1


def test_conditioning_claim_statistics_at_a_chosen_kappa():
    stats_ = conditioning.claim_statistics(_conditioning_final(), 10.0)
    assert_interval(stats_["rise"], [0.5, 0.4, 0.5])
    assert_interval(stats_["clip_final"], [3.0, 4.0, 5.0])
    assert_interval(stats_["collapse"], np.log10([6.0 / 3.0, 9.0 / 4.0, 7.0 / 5.0]))
    # final over (0, .1, .3): seed 0 (6, 5, 4) and seed 1 (9, 5, 4.5) fall: -1; seed 2 (7, 8, 6): -0.5
    assert_interval(stats_["trend"], [-1.0, -1.0, -0.5])
    assert_interval(stats_["aligned_at_peak"], [0.5, 0.7, 0.8])
    assert stats_["inside_trend"].n == 0  # no model weighs its negatives inside at kappa_z 10


def test_conditioning_trend_is_undecided_with_fewer_than_three_weights_below_clip():
    two_below = {k: v for k, v in CH3.items() if k[1] != 0.3}
    stats_ = conditioning.claim_statistics(_conditioning_final(two_below))
    assert stats_["trend"].n == 0 and all(np.isnan(stats_["trend"][:3]))
    assert_interval(stats_["rise"], [1.0, 1.3, 1.3])  # the other statistics do not depend on it


def _runs(cells: dict, metric_offset: float = 7.0) -> pd.DataFrame:
    """Long history rows from ``{(negatives, kappa_z, neg_weight): {step: [condition per seed]}}``, with
    an alignment row beside each (``metric_offset`` added: a statistic reading it is wrong)."""
    rows = [{"negatives": n, "kappa_z": k, "neg_weight": w, "step": step, "seed": seed, "metric": metric,
             "value": v + (metric_offset if metric == "alignment" else 0.0)}
            for (n, k, w), by_step in cells.items() for step, values in by_step.items()
            for seed, v in zip(SEEDS, values) for metric in ("condition", "alignment")]
    return pd.DataFrame(rows).sample(frac=1, random_state=0)


def test_conditioning_switch_statistics():
    clip = {100: [1000.0, 2000.0, 500.0], 200: [10.0, 20.0, 50.0]}
    history = _runs({("outside", 100.0, 1.0): clip,
                     ("outside", 10.0, 1.0): {100: [1.0, 1.0, 1.0], 200: [9.0, 9.0, 9.0]},
                     ("outside", 100.0, 0.3): {100: [1.0, 1.0, 1.0], 200: [8.0, 8.0, 8.0]},
                     ("inside", 100.0, 0.3): {100: [1.0, 1.0, 1.0], 200: [7.0, 7.0, 7.0]}})
    switched = _runs({("outside", 100.0, 0.0): {0: [1.0, 1.0, 1.0], 100: [1000.0, 2000.0, 500.0],
                                                200: [3000.0, 2000.0, 1000.0], 400: [30.0, 2.0, 100.0]}})
    stats_ = conditioning.switch_statistics(switched, history, 100.0, off=100, on=200)
    # CLIP from step 100 to 200: log10 (10/1000, 20/2000, 50/500) = -2, -2, -1
    assert_interval(stats_["clip_window"], [-2.0, -2.0, -1.0])
    # switched, same steps: log10 (3000/1000, 2000/2000, 1000/500)
    assert_interval(stats_["off_window"], np.log10([3.0, 1.0, 2.0]))
    # switched, from step 200 to its last step 400: log10 (30/3000, 2/2000, 100/1000) = -2, -3, -1
    assert_interval(stats_["restart"], [-2.0, -3.0, -1.0])


def test_conditioning_switch_steps_sit_on_the_measurement_grid():
    final = pd.DataFrame({"negatives": ["outside"] * 3 + ["outside", "inside"],
                          "kappa_z": 100.0, "neg_weight": [1.0, 1.0, 1.0, 0.3, 1.0],
                          "peak_step": [90, 300, 210, 900, 900]})
    # CLIP's median peak 210 -> 180 on a grid of 60; halfway to 1000: (1000 - 180) / 2 = 410 -> 360
    assert conditioning.switch_steps(final, 100.0, steps=1000, log_every=60) == (180, 540)
    assert conditioning.switch_steps(final, 100.0, steps=1000, log_every=10) == (210, 600)
    off, on = conditioning.switch_steps(final, 100.0, steps=1001, log_every=10)  # an odd remainder
    assert (off, on) == (210, 600) and type(off) is type(on) is int  # steps, printed in the chapter as such


def test_conditioning_readout_table():
    table = conditioning.readout_table(_conditioning_final(), 100.0)
    assert list(table.columns) == ["log10 condition number", "effective rank", "norm / ball radius"]
    assert list(table.index) == [0.0, 0.1, 0.3, 1.0]
    for w in (0.0, 0.1, 0.3, 1.0):
        cells = CH3[100.0, w]
        for label, values in (("log10 condition number", np.log10(cells["final"])),
                              ("effective rank", cells["effective_rank"]), ("norm / ball radius", cells["ball_usage"])):
            mean, lo, hi, _ = t_interval(values)
            for v in (mean, lo, hi):  # the case must not sit on a rounding boundary of the 2-digit text
                assert abs(v * 100 - np.floor(v * 100) - 0.5) > 1e-6
            assert table.loc[w, label] == f"{mean:.2f} [{lo:.2f}, {hi:.2f}]"


# ---------------------------------------------------------------- Chapter 5: disentanglement

REF, ADDITIVE, ENTANGLED, COVERAGE = disentanglement.REFERENCE, "frozen additive text", "frozen entangled text", \
    "coverage 0.5"
CH5 = {  # (family, text): per seed
    (REF, "learned"): dict(composition=[0.60, 0.55, 0.70], image_z_diff=[0.50, 0.50, 0.50],
                           image_dci_completeness=[0.20, 0.20, 0.20], image_explicitness=[0.70, 0.70, 0.70],
                           text_z_diff=[0.10, 0.10, 0.10]),
    (COVERAGE, "learned"): dict(composition=[0.40, 0.45, 0.35], image_z_diff=[0.40, 0.40, 0.40],
                                image_dci_completeness=[0.10, 0.10, 0.10], image_explicitness=[0.60, 0.60, 0.60],
                                text_z_diff=[0.20, 0.20, 0.20]),
    (ADDITIVE, "additive"): dict(composition=[0.50, 0.58, 0.62], image_z_diff=[0.80, 0.70, 0.90],
                                 image_dci_completeness=[0.30, 0.35, 0.20], image_explicitness=[0.90, 0.92, 0.95],
                                 text_z_diff=[0.90, 0.90, 0.95]),
    (ENTANGLED, "entangled"): dict(composition=[0.30, 0.48, 0.37], image_z_diff=[0.60, 0.65, 0.50],
                                   image_dci_completeness=[0.40, 0.30, 0.30], image_explicitness=[0.85, 0.80, 0.90],
                                   text_z_diff=[0.10, 0.30, 0.15]),
}


def test_disentanglement_family_gap_is_a_paired_difference():
    results = long_frame(CH5, ("family", "text"))
    # composition, additive - entangled per seed: .50-.30, .58-.48, .62-.37
    assert_interval(disentanglement.family_gap(results, "composition", ADDITIVE, ENTANGLED), [0.20, 0.10, 0.25])
    # the other order flips the sign; another pair of families and another column read their own cells
    assert_interval(disentanglement.family_gap(results, "composition", ENTANGLED, ADDITIVE), [-0.20, -0.10, -0.25])
    assert_interval(disentanglement.family_gap(results, "composition", REF, COVERAGE), [0.20, 0.10, 0.35])
    assert_interval(disentanglement.family_gap(results, "image_z_diff", ADDITIVE, ENTANGLED), [0.20, 0.05, 0.40])


def test_disentanglement_metric_gaps_one_row_per_metric():
    results = long_frame(CH5, ("family", "text"))
    metrics = ["z_diff", "dci_completeness", "explicitness"]
    table = disentanglement.metric_gaps(results, "image", metrics, ADDITIVE, ENTANGLED)
    assert list(table.columns) == ["metric", "gap", "lo", "hi", "seeds"]
    assert table.metric.tolist() == metrics
    by_hand = {"z_diff": [0.20, 0.05, 0.40],  # .8-.6, .7-.65, .9-.5
               "dci_completeness": [-0.10, 0.05, -0.10],  # .3-.4, .35-.3, .2-.3
               "explicitness": [0.05, 0.12, 0.05]}  # .9-.85, .92-.8, .95-.9
    for row in table.itertuples():
        assert_interval(Interval(row.gap, row.lo, row.hi, row.seeds), by_hand[row.metric])
    text = disentanglement.metric_gaps(results, "text", ["z_diff"], ADDITIVE, ENTANGLED).iloc[0]
    assert_interval(Interval(text.gap, text.lo, text.hi, text.seeds), [0.80, 0.60, 0.80])  # .9-.1, .9-.3, .95-.15


def test_disentanglement_rise_over_training_is_last_minus_first_step_per_seed():
    history = long_frame({
        (REF, "z_diff", 0): dict(value=[0.10, 0.20, 0.15]),
        (REF, "z_diff", 50): dict(value=[0.50, 0.60, 0.40]),  # a peak in between: last - first, not max - min
        (REF, "z_diff", 100): dict(value=[0.30, 0.45, 0.50]),
        (REF, "composition", 0): dict(value=[0.10, 0.10, 0.10]),
        (REF, "composition", 50): dict(value=[0.20, 0.30, 0.40]),
        (REF, "composition", 100): dict(value=[0.60, 0.70, 0.90]),
        (ADDITIVE, "z_diff", 0): dict(value=[0.10, 0.10, 0.10]),
        (ADDITIVE, "z_diff", 50): dict(value=[0.20, 0.20, 0.20]),
        (ADDITIVE, "z_diff", 100): dict(value=[0.90, 0.80, 0.95]),
    }, ("family", "metric", "step"))
    assert_interval(disentanglement.rise_over_training(history, REF), [0.20, 0.25, 0.35])  # .3-.1, .45-.2, .5-.15
    assert_interval(disentanglement.rise_over_training(history, REF, "composition"), [0.50, 0.60, 0.80])
    assert_interval(disentanglement.rise_over_training(history, ADDITIVE), [0.80, 0.70, 0.85])


def test_disentanglement_family_differences_is_kruskal_wallis():
    # composition ranks (1..9) by family: A {1, 2, 6}, B {3, 4, 8}, C {5, 7, 9}; rank sums 9, 15, 21.
    # H = 12 / (9 * 10) * (9^2 + 15^2 + 21^2) / 3 - 3 * 10 = 3.2, and with 2 degrees of freedom the
    # chi-square tail is exp(-H / 2).
    # retrieval ranks A {1, 2, 3}, B {4, 5, 6}, C {7, 8, 9}: H = 12 / 90 * (36 + 225 + 576) / 3 - 30 = 7.2
    results = long_frame({("A",): dict(composition=[0.1, 0.2, 0.6], retrieval=[0.1, 0.2, 0.3]),
                          ("B",): dict(composition=[0.3, 0.4, 0.8], retrieval=[0.4, 0.5, 0.6]),
                          ("C",): dict(composition=[0.5, 0.7, 0.9], retrieval=[0.7, 0.8, 0.9])}, ("family",))
    h, p = disentanglement.family_differences(results)
    assert (h, p) == pytest.approx((3.2, np.exp(-1.6)), abs=TOL)
    h, p = disentanglement.family_differences(results, "retrieval")
    assert (h, p) == pytest.approx((7.2, np.exp(-3.6)), abs=TOL)
    assert all(np.isnan(disentanglement.family_differences(results[results.family == "A"])))


def _correlation_models() -> pd.DataFrame:
    return pd.DataFrame({
        "composition": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
        "retrieval": [0.9, 0.8, 0.7, 0.6, 0.5, 0.4],
        "image_z_diff": [1.0, 2.0, 3.0, 5.0, 8.0, 13.0],  # rises with composition
        "image_explicitness": [0.9, 0.7, 0.6, 0.3, 0.2, 0.1],  # falls with it
        "image_dcimig": [0.3, 0.1, 0.2, 0.6, 0.4, 0.5],  # ranks 3 1 2 6 4 5
        "text_z_diff": [13.0, 8.0, 5.0, 3.0, 2.0, 1.0],
    })


def _bootstrap_bounds(x, y, seed=0, n_resamples=2000) -> tuple[float, float]:
    """Percentile interval of scipy's Spearman rho over resampled pairs, one resample at a time, with
    the resampling spearman_ci documents (``default_rng(seed).integers``); constant resamples dropped."""
    x, y = np.asarray(x), np.asarray(y)
    idx = np.random.default_rng(seed).integers(len(x), size=(n_resamples, len(x)))
    rhos = [stats.spearmanr(x[i], y[i]).statistic for i in idx if len(set(x[i])) > 1 and len(set(y[i])) > 1]
    return tuple(np.percentile(rhos, [2.5, 97.5]))


def test_disentanglement_correlations():
    models = _correlation_models()
    table = disentanglement.correlations(models, "image", ["z_diff", "explicitness", "dcimig"])
    assert list(table.columns) == ["embedding", "metric", "rho", "lo", "hi", "models"]
    assert table.metric.tolist() == ["z_diff", "explicitness", "dcimig"]
    assert (table.embedding == "image").all() and (table.models == 6).all()
    rows = table.set_index("metric")
    # a strictly monotone relation has rho +-1 in every resample that is not constant: a zero-width interval
    assert tuple(rows.loc["z_diff", ["rho", "lo", "hi"]]) == pytest.approx((1.0, 1.0, 1.0), abs=TOL)
    assert tuple(rows.loc["explicitness", ["rho", "lo", "hi"]]) == pytest.approx((-1.0, -1.0, -1.0), abs=TOL)
    # rank differences 2, -1, -1, 2, -1, -1: rho = 1 - 6 * 12 / (6 * 35) = 23 / 35
    assert rows.loc["dcimig", "rho"] == pytest.approx(23 / 35, abs=TOL)
    lo, hi = _bootstrap_bounds(models.image_dcimig, models.composition)
    assert hi - lo > 0.1
    assert (rows.loc["dcimig", "lo"], rows.loc["dcimig", "hi"]) == pytest.approx((lo, hi), abs=TOL)
    # the text side reads text_ columns; another target replaces composition
    text = disentanglement.correlations(models, "text", ["z_diff"]).iloc[0]
    assert text.embedding == "text" and text.rho == pytest.approx(-1.0, abs=TOL)
    assert disentanglement.correlations(models, "image", ["z_diff"], target="retrieval").rho.iloc[0] == \
        pytest.approx(-1.0, abs=TOL)


def test_disentanglement_correlations_resample_with_the_seed_given():
    models = _correlation_models()
    row = disentanglement.correlations(models, "image", ["dcimig"], seed=7).iloc[0]
    assert (row.lo, row.hi) == pytest.approx(_bootstrap_bounds(models.image_dcimig, models.composition, seed=7),
                                             abs=TOL)


def test_disentanglement_interval_text():
    table = pd.DataFrame({"metric": ["z_diff", "mig"], "rho": [0.414, -0.2], "lo": [0.1, -0.555], "hi": [0.655, 0.104]})
    assert disentanglement.interval_text(table, "rho") == "z_diff 0.41 [0.10, 0.66]; mig -0.20 [-0.56, 0.10]"


def test_disentanglement_positive_counts_intervals_above_zero():
    table = pd.DataFrame({"rho": [0.5, 0.4, 0.1, 0.3, np.nan, -0.2], "lo": [0.2, 0.0, -0.1, 0.05, np.nan, -0.5],
                          "hi": [0.7, 0.6, 0.3, 0.5, np.nan, 0.1]})
    assert disentanglement.positive(table) == 2  # 0.2 and 0.05; a bound at 0 and NaN do not count
    assert isinstance(disentanglement.positive(table), int)


# ---------------------------------------------------------------- Chapter 6: imbalance

SUB = "SL, vocabulary 8 (frequency)"
CH6 = {  # (method,): per seed
    (imbalance.CLIP,): dict(rho_predictions=[0.20, 0.30, 0.10], rho_accuracy=[0.30, 0.20, 0.45],
                            accuracy=[0.70, 0.72, 0.71]),
    (imbalance.SL,): dict(rho_predictions=[0.80, 0.70, 0.90], rho_accuracy=[0.50, 0.60, 0.55],
                          accuracy=[0.75, 0.70, 0.80]),
    (SUB,): dict(rho_predictions=[0.40, 0.50, 0.30], rho_accuracy=[0.45, 0.55, 0.40], accuracy=[0.74, 0.69, 0.83]),
}


def test_imbalance_gap_is_a_paired_difference():
    results = long_frame(CH6, ("method",))
    assert_interval(imbalance.gap(results, "rho_predictions", imbalance.SL, imbalance.CLIP), [0.60, 0.40, 0.80])
    assert_interval(imbalance.gap(results, "rho_accuracy", imbalance.SL, imbalance.CLIP), [0.20, 0.40, 0.10])
    assert_interval(imbalance.gap(results, "rho_predictions", imbalance.CLIP, imbalance.SL), [-0.60, -0.40, -0.80])
    assert_interval(imbalance.gap(results, "accuracy", SUB, imbalance.CLIP), [0.04, -0.03, 0.12])


def test_imbalance_subsampling_effect():
    small = long_frame(CH6, ("method",))  # SL - subsampled: .8-.4, .7-.5, .9-.3 = .4, .2, .6
    large = long_frame({(imbalance.SL,): dict(rho_predictions=[0.85, 0.75, 0.80], rho_accuracy=[0.1, 0.1, 0.1]),
                        (SUB,): dict(rho_predictions=[0.75, 0.70, 0.70], rho_accuracy=[0.9, 0.9, 0.9])},
                       ("method",), shuffle=3)  # SL - subsampled: .10, .05, .10
    assert_interval(imbalance.subsampling_effect(small, large, SUB), [0.30, 0.15, 0.50])


def test_imbalance_scale_effect():
    scale = long_frame({(imbalance.CLIP, 1.0): dict(rho_accuracy=[0.20, 0.30, 0.10]),
                        (imbalance.CLIP, 0.25): dict(rho_accuracy=[0.50, 0.45, 0.50]),
                        (imbalance.SL, 1.0): dict(rho_accuracy=[0.80, 0.70, 0.90]),
                        (imbalance.SL, 0.25): dict(rho_accuracy=[0.85, 0.80, 0.90])}, ("method", "fraction"))
    effect = imbalance.scale_effect(scale)
    assert set(effect) == {imbalance.CLIP, imbalance.SL, "difference"}
    assert_interval(effect[imbalance.CLIP], [0.30, 0.15, 0.40])  # on the smallest data set minus on all of it
    assert_interval(effect[imbalance.SL], [0.05, 0.10, 0.00])
    assert_interval(effect["difference"], [0.25, 0.05, 0.40])  # CLIP's change minus SL's


def test_imbalance_trimmed_accuracy_averages_the_cut_classes_per_method_and_seed():
    accuracy = {(imbalance.CLIP, 0): [0.9, 0.2, 0.8, 0.4, 0.7], (imbalance.CLIP, 1): [0.6, 0.5, 0.9, 0.8, 0.3],
                (imbalance.SL, 0): [1.0, 0.0, 0.9, 0.1, 0.8], (imbalance.SL, 1): [0.9, 0.8, 0.7, 0.6, 0.05]}
    per_class = pd.DataFrame([{"method": m, "seed": s, "class": c, "count": 100 - 10 * c, "accuracy": a}
                              for (m, s), accs in accuracy.items() for c, a in enumerate(accs)])
    world = SimpleNamespace(trimmed=lambda seed: {0: np.array([1, 3]), 1: np.array([4])}[seed])
    out = imbalance.trimmed_accuracy(per_class.sample(frac=1, random_state=0), world)
    out = out.sort_values(["method", "seed"]).reset_index(drop=True)
    assert list(out.columns) == ["method", "seed", "accuracy"]
    # seed 0 cut classes 1 and 3, seed 1 class 4: CLIP (.2 + .4) / 2, .3; SL (0 + .1) / 2, .05
    expected = pd.DataFrame({"method": [imbalance.CLIP, imbalance.CLIP, imbalance.SL, imbalance.SL],
                             "seed": [0, 1, 0, 1], "accuracy": [0.30, 0.30, 0.05, 0.05]})
    assert out[["method", "seed"]].equals(expected[["method", "seed"]])
    np.testing.assert_allclose(out.accuracy, expected.accuracy, rtol=0, atol=TOL)


# ---------------------------------------------------------------- Chapter 4: diversity

CH4 = {  # (method, head, diverse_fraction, size_fraction): final ER per seed
    ("supervised", "classifier", 0.0, 1.0): [0.00, 0.01, -0.01],
    ("clip", "zero-shot", 0.0, 1.0): [0.02, 0.04, 0.03],
    ("clip", "zero-shot", 0.5, 1.0): [0.04, 0.06, 0.08],
    ("clip", "zero-shot", 1.0, 1.0): [0.10, 0.12, 0.15],
    ("clip", "zero-shot", 1.0, 0.5): [0.07, 0.11, 0.12],
    ("clip", "zero-shot", 1.0, 0.25): [0.05, 0.09, 0.08],
    ("clip", "linear probe", 1.0, 1.0): [0.01, 0.03, 0.02],
    ("clip", "class names", 1.0, 1.0): [0.04, 0.02, 0.07],
    ("caption_labels", "classifier", 1.0, 1.0): [0.06, 0.05, 0.10],
    ("simclr", "classifier", 1.0, 1.0): [0.11, 0.09, 0.12],
}
FACTOR_DELTAS = {  # ER(with) - ER(without) per seed, by hand from CH4
    "training set size": [0.05, 0.03, 0.07],  # diverse full - diverse at the smallest size (0.25, not 0.5)
    "training distribution": [0.08, 0.08, 0.12],  # diverse - narrow
    "language at training time": [0.02, 0.03, 0.04],  # narrow CLIP - supervised
    "language at test time": [0.06, 0.10, 0.08],  # zero-shot from prompts - from class names
    "contrastive loss": [0.04, 0.07, 0.05],  # zero-shot - caption labels
    "language and loss (SimCLR)": [-0.01, 0.03, 0.03],  # zero-shot - SimCLR fine-tuned on caption labels
}


def _diversity_results(table=CH4) -> pd.DataFrame:
    """Final checkpoints (step 400) with CH4's ER, and an earlier checkpoint whose ER must be ignored;
    the linear probe is measured at the end only, as in the chapter."""
    keys = ("method", "head", "diverse_fraction", "size_fraction")
    final = long_frame({k: dict(step=[400] * 3, er=er) for k, er in table.items()}, keys, shuffle=None)
    early = long_frame({k: dict(step=[100] * 3, er=[-0.5 - e for e in er]) for k, er in table.items()
                        if k[1] != "linear probe"}, keys, shuffle=None)
    frame = pd.concat([early, final], ignore_index=True).assign(left_out="", id_accuracy=0.5)
    return frame.sample(frac=1, random_state=2)


def test_diversity_factor_effects_per_seed_on_final_checkpoints():
    effects = diversity.factor_effects(_diversity_results(), "final")
    assert list(effects.columns) == ["factor", "seed", "delta_er", "accuracy"]
    assert list(dict.fromkeys(effects.factor)) == list(diversity.FACTORS)
    assert len(effects) == 6 * 3
    for factor, deltas in FACTOR_DELTAS.items():
        got = effects[effects.factor == factor].set_index("seed").delta_er.sort_index()
        assert list(got.index) == list(SEEDS)
        np.testing.assert_allclose(got.to_numpy(), deltas, rtol=0, atol=TOL)
    # without a reduced training set there is no size factor
    full_size = {k: v for k, v in CH4.items() if k[3] == 1.0}
    effects = diversity.factor_effects(_diversity_results(full_size), "final")
    assert set(effects.factor) == set(FACTOR_DELTAS) - {"training set size"}


def test_diversity_factor_intervals():
    effects = pd.DataFrame([{"factor": f, "seed": s, "delta_er": d[i]} for f, d in FACTOR_DELTAS.items()
                            for i, s in enumerate(SEEDS)])
    intervals = diversity.factor_intervals(effects)
    assert list(intervals) == list(FACTOR_DELTAS)  # in the order the factors come
    for factor, deltas in FACTOR_DELTAS.items():
        assert_interval(intervals[factor], deltas)
