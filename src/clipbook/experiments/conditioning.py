"""Chapter 3: pair-driven conditioning (Ren & Li, 2023).

Linear encoders ``f_A(x) = W_A x`` and ``f_B(x) = W_B x`` (unnormalized, as in the paper's
model) trained from a small initialization by gradient descent on a symmetric InfoNCE loss at a
fixed temperature, whose negative pairs count with weight ``neg_weight`` (1: CLIP's loss, 0:
positive pairs only). Every encoder lives in a Frobenius-norm ball: for any ``neg_weight``
below 1 the loss is unbounded below (a pair's own similarity can outgrow its weighted softmax
normalizer), and the ball is the norm constraint that makes it a problem at all; its radius is
``norm_budget`` times the norm CLIP's balanced optimum needs, so it does not bind for CLIP. All
(neg_weight, kappa_z, seed) models train at once as one batched program; the model's pieces are
in :mod:`clipbook.learners.paired_views`.

The representation of the latent is ``R_A = W_A U_A D`` (see :mod:`clipbook.data.views`): its
singular values are how strongly each latent direction is represented, its condition number
says whether they are balanced.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from clipbook.data.views import PairedViews, ViewSpec, sample_views
from clipbook.device import default_device
from clipbook.evaluate.rules import Above, Below, Control, Decision, all_of, joint
from clipbook.evaluate.stats import UNDECIDED, Interval, mean_ci, spearman_per_group, summarize
from clipbook.learners import sweeps
from clipbook.learners.paired_views import (LOGIT_SCALE, contrastive_loss, init_encoders, matching,
                                            representation_metrics)
from clipbook.training.loop import Params, TrainConfig, train


def canonical_correlations(spec: ViewSpec) -> torch.Tensor:
    """``rho_i = var_i / (var_i + noise^2)``: how much of latent direction ``i`` the views share."""
    var = spec.variances.double()
    return var / (var + spec.noise_std ** 2)


def balanced_condition_number(spec: ViewSpec) -> float:
    """The condition number of ``R_A`` at the optimum of CLIP's loss, ``rho_1 / rho_r``.

    For Gaussian data and many negatives, ``log E exp(tau u.v') = tau^2 u' Sigma_v u / 2``, so
    the loss is ``-tau tr(R_A R_B') + tau^2 tr(Sigma_u Sigma_v) / 2``: quadratic reward, quartic
    penalty. Per latent direction its minimum has singular value ``rho_i / sqrt(tau)``: every
    direction equally strong, up to how noisy the views are along it.
    """
    rho = canonical_correlations(spec)
    return float(rho[0] / rho[-1])


def balanced_weight_norm(spec: ViewSpec, logit_scale: float = LOGIT_SCALE) -> float:
    """Frobenius norm of ``W_A`` at that optimum: gains ``sqrt(var_i / tau) / (var_i + noise^2)``.

    Weak directions need large gains, so a balanced encoder of an ill-conditioned latent is a
    large matrix; the norm ball is measured in this unit.
    """
    var = spec.variances.double()
    return math.sqrt(float((var / (logit_scale * (var + spec.noise_std ** 2) ** 2)).sum()))


def theory_table(spec: ViewSpec, kappa_zs: Sequence[float], norm_budget: float) -> pd.DataFrame:
    """What the theory expects at each ``kappa_z``: the data's own imbalance (ratio of the latent
    standard deviations), CLIP's balanced condition number and the radius of the norm ball."""
    specs = [replace(spec, kappa_z=float(k)) for k in kappa_zs]
    return pd.DataFrame({
        "kappa_z": [s.kappa_z for s in specs],
        "latent std ratio": [math.sqrt(s.kappa_z) for s in specs],
        "balanced condition number": [balanced_condition_number(s) for s in specs],
        "ball radius": [norm_budget * balanced_weight_norm(s) for s in specs],
    }).set_index("kappa_z")


def _views(spec: ViewSpec, meta: pd.DataFrame, seeds: Sequence[int], n: int, split: str,
           device: torch.device) -> PairedViews:
    """``n`` pairs of ``split`` for every model, at the (kappa_z, seed) of its row of ``meta``;
    common random numbers across the settings of a seed."""
    kappas = sorted(set(meta.kappa_z))
    specs = [replace(spec, kappa_z=float(k)) for k in kappas]
    index = torch.tensor([kappas.index(k) * len(seeds) + list(seeds).index(s) for k, s in zip(meta.kappa_z, meta.seed)])
    return sample_views(specs, seeds, n, split).select(index).to(device)


def _problem(spec: ViewSpec, meta: pd.DataFrame, seeds: Sequence[int], *, n_train: int, n_probe: int,
             norm_budget: float, device: torch.device) -> tuple[PairedViews, PairedViews, torch.Tensor]:
    """Each model's training data, probe and norm-ball radius (:func:`_views`)."""
    train_set, probe = (_views(spec, meta, seeds, n, split, device) for n, split in ((n_train, "train"), (n_probe, "id")))
    radius = torch.tensor([norm_budget * balanced_weight_norm(replace(spec, kappa_z=float(k))) for k in meta.kappa_z],
                          dtype=torch.float32, device=device)
    return train_set, probe, radius


def matching_columns(spec: ViewSpec, meta: pd.DataFrame, seeds: Sequence[int], params: Params, radius: torch.Tensor,
                     n: int, candidates: int, device: torch.device) -> pd.DataFrame:
    """Each model's matching accuracy on ``n`` fresh pairs of its training world (``matching``) and
    of the shifted world (``shifted_matching``: :meth:`~clipbook.data.views.ViewSpec.shifted`)."""
    return pd.DataFrame({"model": meta.model, **{
        column: matching(params, radius, _views(world, meta, seeds, n, split, device), candidates).cpu().numpy()
        for column, world, split in (("matching", spec, "id"), ("shifted_matching", spec.shifted(), "ood"))}})


def run_sweep(spec: ViewSpec, kappa_zs: Sequence[float], neg_weights: Sequence[float], seeds: Sequence[int], *,
              n_train: int, n_probe: int, embed_dim: int, init_scale: float, norm_budget: float,
              config: TrainConfig, inside_weights: Sequence[float] = (), device: torch.device | None = None) -> sweeps.Sweep:
    """Train every model of :func:`model_table` at once: each (neg_weight, kappa_z, seed) with the
    negatives weighted outside the log-sum-exp, and each weight of ``inside_weights`` inside it
    at the largest ``kappa_z``.

    ``results`` has one row per model (start, peak and final condition number, effective rank,
    ...; :func:`summarize_trajectories`; matching accuracies among ``config.batch_size``
    candidates, :func:`matching_columns`), ``history`` every measurement (step, model, metric,
    value, negatives, neg_weight, kappa_z, seed)."""
    device = device or default_device()
    meta = model_table(kappa_zs, neg_weights, seeds, inside_weights)
    train_set, probe, radius = _problem(spec, meta, seeds, n_train=n_train, n_probe=n_probe,
                                        norm_budget=norm_budget, device=device)
    is_inside = torch.tensor((meta.negatives == "inside").to_numpy(), device=device)
    weight = torch.tensor(meta.neg_weight.to_numpy(), dtype=torch.float32, device=device)
    outside, inside = torch.where(is_inside, 1.0, weight), torch.where(is_inside, weight, 1.0)
    params = init_encoders(seeds, len(meta) // len(seeds), spec, embed_dim, init_scale)
    result = train(params, contrastive_loss(train_set, outside, radius, inside), n_train, config,
                   metrics=representation_metrics(probe, radius), desc="conditioning", device=device, compiled=True)
    history = result.history.merge(meta, on="model")
    with torch.no_grad():
        scores = matching_columns(spec, meta, seeds, result.params, radius, n_train, config.batch_size, device)
    return sweeps.Sweep(summarize_trajectories(history).merge(scores, on="model"), result.seconds, history)


def model_table(kappa_zs: Sequence[float], neg_weights: Sequence[float], seeds: Sequence[int],
                inside_weights: Sequence[float] = ()) -> pd.DataFrame:
    """The setting of every model, in :func:`run_sweep`'s order: ``negatives`` says where the weight acts."""
    settings = [{"negatives": "outside", "neg_weight": float(w), "kappa_z": float(k)} for w in neg_weights for k in kappa_zs]
    settings += [{"negatives": "inside", "neg_weight": float(w), "kappa_z": float(max(kappa_zs))} for w in inside_weights]
    return sweeps.model_table(settings, seeds)


def _clip(table: pd.DataFrame, kappa_z: float) -> pd.DataFrame:
    """The rows of CLIP's own loss (weight 1, outside the log-sum-exp) at ``kappa_z``."""
    return table[(table.negatives == "outside") & (table.kappa_z == kappa_z) & (table.neg_weight == 1.0)]


def switch_steps(final: pd.DataFrame, kappa_z: float, steps: int, log_every: int) -> tuple[int, int]:
    """When the switched run turns CLIP's negatives off and on again: at the median step of CLIP's
    peak condition number at ``kappa_z``, and halfway from there to the end (both on the
    measurement grid)."""
    clip = _clip(final, kappa_z)
    off = int(clip.peak_step.median()) // log_every * log_every
    return off, off + (steps - off) // 2 // log_every * log_every


def run_switch(spec: ViewSpec, kappa_z: float, seeds: Sequence[int], phases: Sequence[tuple[int, float]], *,
               n_train: int, n_probe: int, embed_dim: int, init_scale: float, norm_budget: float,
               config: TrainConfig, device: torch.device | None = None) -> pd.DataFrame:
    """CLIP's models at ``kappa_z`` trained through ``phases`` of (steps, neg_weight), e.g. the
    negatives off at the peak and on again later; the same data and start as :func:`run_sweep`'s.
    Plain SGD keeps no state, so the phases chain exactly. Returns the history (step, seed,
    metric, value, neg_weight of the phase)."""
    device = device or default_device()
    meta = sweeps.model_table([{"kappa_z": float(kappa_z)}], seeds)
    train_set, probe, radius = _problem(spec, meta, seeds, n_train=n_train, n_probe=n_probe,
                                        norm_budget=norm_budget, device=device)
    params, start, parts = init_encoders(seeds, 1, spec, embed_dim, init_scale), 0, []
    for length, neg_weight in phases:
        weight = torch.full((len(seeds),), float(neg_weight), device=device)
        result = train(params, contrastive_loss(train_set, weight, radius), n_train, replace(config, steps=length),
                       metrics=representation_metrics(probe, radius), desc=f"negatives x {neg_weight:g}", device=device,
                       compiled=True)
        rows = result.history if start == 0 else result.history[result.history.step > 0]  # a phase's start is the last one's end
        parts.append(rows.assign(step=rows.step + start, neg_weight=float(neg_weight)))
        params, start = result.params, start + length
    return pd.concat(parts, ignore_index=True).merge(meta[["model", "seed"]], on="model").drop(columns="model")


def summarize_trajectories(history: pd.DataFrame) -> pd.DataFrame:
    """Per model: condition number at the start, its peak (and when), at the end; the alignment at
    that peak; final effective rank and alignment; ``log10`` of the condition numbers for
    averaging over seeds."""
    cond = history[history.metric == "condition"].sort_values("step")
    last = history[history.step == history.step.max()].pivot(index="model", columns="metric", values="value")
    by_model = cond.groupby("model")
    peak_step = cond.loc[by_model.value.idxmax(), ["model", "step"]].set_index("model").step
    alignment = history[history.metric == "alignment"].set_index(["model", "step"]).value
    out = pd.DataFrame({
        "start": by_model.value.first(),
        "peak": by_model.value.max(),
        "peak_step": peak_step,
        "final": by_model.value.last(),
        "alignment_at_peak": alignment.loc[list(peak_step.items())].droplevel("step"),
        "effective_rank": last.effective_rank,
        "alignment": last.alignment,
        "ball_usage": last.ball_usage,
    })
    for col in ("start", "peak", "final"):
        out[f"log10_{col}"] = np.log10(out[col])
    keys = history.drop_duplicates("model").set_index("model")[["negatives", "neg_weight", "kappa_z", "seed"]]
    return keys.join(out).reset_index()


def _interval_cells(frame: pd.DataFrame, by: str | list[str], columns: dict[str, str]) -> pd.DataFrame:
    """``mean [95% CI]`` over seeds of each column (renamed by ``columns``), one row per ``by``."""
    return pd.DataFrame({label: summarize(frame, by, col).set_index(by).apply(
        lambda r: f"{r['mean']:.2f} [{r['lo']:.2f}, {r['hi']:.2f}]", axis=1) for col, label in columns.items()})


def readout_table(final: pd.DataFrame, kappa_z: float) -> pd.DataFrame:
    """Final read-outs per negative weight at one ``kappa_z``, each ``mean [95% CI]`` over seeds:
    condition number (log10), effective rank, and the encoder's norm relative to the ball."""
    at = final[(final.negatives == "outside") & (final.kappa_z == kappa_z)]
    return _interval_cells(at, "neg_weight", {"log10_final": "log10 condition number", "effective_rank": "effective rank",
                                              "ball_usage": "norm / ball radius"})


def matching_table(final: pd.DataFrame, kappa_z: float) -> pd.DataFrame:
    """Per way of weighting the negatives and weight, at one ``kappa_z``: the final condition number
    (log10) and the matching accuracy in the training world and in the shifted one."""
    return _interval_cells(final[final.kappa_z == kappa_z], ["negatives", "neg_weight"],
                           {"log10_final": "log10 condition number", "matching": "matching, training world",
                            "shifted_matching": "matching, shifted world"})


def claim_statistics(final: pd.DataFrame, kappa_z: float | None = None) -> dict[str, Interval]:
    """The statistics the chapter's claims are decided on, at ``kappa_z`` (default: the largest),
    from the negatives weighted outside the log-sum-exp unless said otherwise.

    - ``rise``: ``log10(peak / start)`` of the condition number with CLIP's loss;
    - ``aligned_at_peak``: CLIP's alignment at its condition number's peak, over its final one;
    - ``clip_final``: CLIP's final condition number;
    - ``collapse``: ``log10(final without negatives / final with CLIP)``, paired by seed;
    - ``trend``: Spearman correlation of the final condition number with ``neg_weight`` among the
      weights below 1, per seed: -1 for a steady fall, 0 when those weights order it by chance
      (CLIP's weight 1 is left out: it alone would pull a chance ordering to -0.5 on five weights);
    - ``inside_trend``: the same over the weights of the negatives weighted *inside* the
      log-sum-exp (all between 0 and 1);
    - ``shift_trend``: Spearman correlation, per seed, of the final condition number with the
      matching accuracy in the shifted world, over every model at ``kappa_z`` (both ways of
      weighting the negatives): -1 when the better conditioned a representation, the better it
      matches where only the weaker directions pair;

    a trend is undecided (NaN) with fewer than three weights.
    """
    kappa_z = final.kappa_z.max() if kappa_z is None else kappa_z
    at = final[final.kappa_z == kappa_z]
    main = at[at.negatives == "outside"]
    weights = set(main.neg_weight)
    if not {0.0, 1.0} <= weights:
        raise ValueError(f"the claims compare neg_weight 0 and 1; the sweep has {sorted(weights)}")
    clip, positive_only = (main[main.neg_weight == w].set_index("seed") for w in (1.0, 0.0))
    return {
        "rise": mean_ci(clip.log10_peak - clip.log10_start),
        "aligned_at_peak": mean_ci(clip.alignment_at_peak / clip.alignment),
        "clip_final": mean_ci(clip.final),
        "collapse": mean_ci(positive_only.log10_final - clip.log10_final),
        "trend": _trend(main[main.neg_weight < 1]),
        "inside_trend": _trend(at[at.negatives == "inside"]),
        "shift_trend": mean_ci(spearman_per_group(at, "log10_final", "shifted_matching")),
    }


def _trend(models: pd.DataFrame) -> Interval:
    """Mean Spearman rho(neg_weight, log10 final condition number) per seed; undecided below three weights."""
    if models.neg_weight.nunique() < 3:
        return UNDECIDED
    return mean_ci(spearman_per_group(models, "neg_weight", "log10_final"))


def switch_statistics(switched: pd.DataFrame, history: pd.DataFrame, kappa_z: float, off: int, on: int) -> dict[str, Interval]:
    """Changes of ``log10`` condition number, per seed, in the switched run (``switched``:
    :func:`run_switch`'s history, negatives off at step ``off``, on again at ``on``) and in CLIP's
    run of the sweep (``history``) over the same steps:

    - ``clip_window``: CLIP from ``off`` to ``on`` (it keeps its negatives);
    - ``off_window``: the switched run from ``off`` to ``on`` (no negatives);
    - ``restart``: the switched run from ``on`` to the end (negatives again).
    """
    clip = _clip(history, kappa_z)

    def log_condition(run: pd.DataFrame, step: int) -> pd.Series:
        rows = run[(run.metric == "condition") & (run.step == step)]
        return np.log10(rows.set_index("seed").value)

    end = switched.step.max()
    return {
        "clip_window": mean_ci(log_condition(clip, on) - log_condition(clip, off)),
        "off_window": mean_ci(log_condition(switched, on) - log_condition(switched, off)),
        "restart": mean_ci(log_condition(switched, end) - log_condition(switched, on)),
    }


def curves(history: pd.DataFrame, metric: str, kappa_z: float, *, log10: bool = False) -> pd.DataFrame:
    """One metric over training at one ``kappa_z``: step, neg_weight, seed, value (``log10`` if asked)."""
    rows = history[(history.negatives == "outside") & (history.metric == metric) & (history.kappa_z == kappa_z)]
    rows = rows[["step", "neg_weight", "seed", "value"]]
    return rows.assign(value=np.log10(rows.value)) if log10 else rows


def switch_curve(switched: pd.DataFrame) -> pd.DataFrame:
    """``log10`` condition number over :func:`run_switch`'s run: step, seed, value."""
    rows = switched[switched.metric == "condition"]
    return pd.DataFrame({"step": rows.step, "seed": rows.seed, "value": np.log10(rows.value)})


def singular_value_curves(history: pd.DataFrame, kappa_z: float, neg_weight: float) -> pd.DataFrame:
    """``log10`` of every singular value of ``R_A`` over training: step, seed, direction (1 = largest), value."""
    rows = history[history.metric.str.startswith("sv_") & (history.kappa_z == kappa_z)
                   & (history.negatives == "outside") & (history.neg_weight == neg_weight)]
    direction = rows.metric.str.removeprefix("sv_").astype(int) + 1
    return pd.DataFrame({"step": rows.step, "seed": rows.seed, "direction": direction, "value": np.log10(rows.value)})


_TREND = "halfway from chance (0) to a steady fall (-1); power at a steady fall"
_TENFOLD = "a tenfold change, the smallest called a change of order; power at a hundredfold"
def claim_rules(tolerance: float, balanced: float) -> dict:
    """Each claim's rule, as stated before the run. ``tolerance`` is claim a's bound on CLIP's final
    condition number (twice the theory's balanced value ``balanced``, at which its power is computed).
    Rises and falls are in log10 of the condition number."""
    return {
        "rise": Above(1.0, 1.0, _TENFOLD, power_at=2.0, what="CI of log10(peak / start)"),
        "final": Below(tolerance, tolerance, "twice the theory's balanced value; power at the balanced value",
                       power_at=balanced, what="CI of CLIP's final condition number"),
        "collapse": Above(2.0, 2.0, "a hundredfold, the bar of the claim; power at a thousandfold", power_at=3.0,
                          what="CI of log10(final without negatives / final with CLIP's loss)"),
        "trend": Below(-0.5, -0.5, _TREND, power_at=-1.0, what="CI of mean Spearman rho(weight, final condition number)"),
        "shift": Below(-0.5, -0.5, _TREND, power_at=-1.0,
                       what="CI of mean Spearman rho(final condition number, matching accuracy in the shifted world)"),
        "aligned": Above(0.9, 0.9, "90% of the final alignment; power at all of it", power_at=1.0,
                         what="CI of alignment at the peak / final alignment"),
        "falls": Below(-1.0, -1.0, _TENFOLD, power_at=-2.0, what="CI of the log10 change"),
        "stays": Above(-0.1, -0.1, "a fall of about 20%; power at no change", power_at=0.0,
                       what="CI of the log10 change"),
    }


def decide(stats: dict[str, Interval], switch: dict[str, Interval], tolerance: float, balanced: float,
           control: Control, matching_control: Control) -> dict[str, Decision]:
    """Every claim's decision from :func:`claim_statistics` and :func:`switch_statistics`; the
    claims that read the condition number stand only where its control read known values, and
    claim g also only where the matching accuracy saw the conditioning of built encoders."""
    r = claim_rules(tolerance, balanced)
    return {
        "a": all_of({"rise": r["rise"].decide(stats["rise"], control=control),
                     "final": r["final"].decide(stats["clip_final"], control=control)}),
        "b": r["collapse"].decide(stats["collapse"], control=control),
        "c": r["trend"].decide(stats["trend"], control=control),
        "d": r["aligned"].decide(stats["aligned_at_peak"]),
        "e": all_of({"CLIP over the off window": r["falls"].decide(switch["clip_window"], control=control),
                     "switched off": r["stays"].decide(switch["off_window"], control=control),
                     "back on": r["falls"].decide(switch["restart"], control=control)}),
        "f": r["trend"].decide(stats["inside_trend"], control=control),
        "g": r["shift"].decide(stats["shift_trend"], control=joint(control, matching_control)),
    }
