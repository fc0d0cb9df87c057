"""Controls of the book's instruments: a construction with a built-in effect, and whether the metric sees it.

A claim that rests on a metric (a signal share, a condition number, effective robustness, a line
gap, a frequency correlation, a disentanglement score, an effective rank) is decided only where the
metric first saw an effect planted in a known-answer construction of the chapter's own shape. Each
function here builds one such construction, reads it with the metric the chapter uses, and returns
a :class:`~clipbook.evaluate.rules.Control`; a claim resting on a failed control is *undecided
(instrument)* (:func:`~clipbook.evaluate.rules.gate`). Each control's pass rule is stated here,
before any chapter ran it.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from clipbook.data.views import ViewSpec, sample_views
from clipbook.evaluate.imbalance import confusion_matrix, frequency_correlations
from clipbook.evaluate.readout import signal_share
from clipbook.evaluate.robustness import fit_baseline, line_gap
from clipbook.evaluate.rules import Control
from clipbook.evaluate.spectral import condition_number, matching_accuracy

PLANTED_GAP_TOLERANCE = 0.25
"""A read-out of a planted difference passes within this share of the planted size."""
METRIC_SEPARATION = 0.1
"""A disentanglement metric passes when additive codes score at least this much above entangled ones
(a tenth of the metrics' 0-1 range), and the mixed codes fall in between."""


def control_table(controls: Mapping[str, Control]) -> pd.DataFrame:
    """One row per instrument: its control, what it measured and whether it passed (what a chapter shows)."""
    return pd.DataFrame([{"instrument": name, "control": c.name, "measured": c.measured,
                          "outcome": {True: "passed", False: "failed", None: "not run"}[c.passed]}
                         for name, c in controls.items()]).set_index("instrument")


def signal_share_control(n_classes: int, block: int = 1) -> Control:
    """:func:`~clipbook.evaluate.readout.signal_share` on classifiers that read one latent block
    only, the other only, or both alike: it must give 1, 0 and 0.5 (within 0.01)."""
    k = n_classes
    part, other = slice(0, k * block), slice(k * block, 2 * k * block)
    embedding = torch.eye(2 * k * block).unsqueeze(0).expand(3, -1, -1)
    reads = torch.zeros(3, k, 2 * k * block)
    one_hot = torch.eye(k).repeat_interleave(block, dim=1)
    reads[0, :, part], reads[1, :, other] = one_hot, one_hot
    reads[2, :, part], reads[2, :, other] = one_hot, one_hot
    share = signal_share(reads, embedding, part, other, 1.0, 1.0)
    expected = torch.tensor([1.0, 0.0, 0.5])
    return Control("classifiers that read one block, the other, or both: shares 1, 0, 0.5",
                   bool(torch.allclose(share, expected, atol=0.01)),
                   ", ".join(f"{v:.3f}" for v in share.tolist()))


def condition_number_control(kappas: Sequence[float] = (1.0, 10.0, 1e4), dim: int = 8) -> Control:
    """Matrices with singular values spread geometrically from 1 to ``kappa`` (rotated at random):
    the condition number must read each ``kappa`` within 1%."""
    rng = torch.Generator().manual_seed(0)
    mats = []
    for kappa in kappas:
        q1, _ = torch.linalg.qr(torch.randn(dim, dim, generator=rng, dtype=torch.float64))
        q2, _ = torch.linalg.qr(torch.randn(dim, dim, generator=rng, dtype=torch.float64))
        s = torch.logspace(0, float(np.log10(kappa)), dim, dtype=torch.float64)
        mats.append(q1 @ torch.diag(s) @ q2)
    read = condition_number(torch.stack(mats))
    ok = bool(torch.allclose(read, torch.tensor(kappas, dtype=torch.float64), rtol=0.01))
    return Control(f"rotated matrices of condition number {', '.join(f'{k:g}' for k in kappas)}", ok,
                   ", ".join(f"{v:.4g}" for v in read.tolist()))


def matching_control(spec: ViewSpec, candidates: int, kappas: Sequence[float] = (1.0, 100.0, 1e4),
                     n: int = 4096, seed: int = 0) -> Control:
    """Encoders built to represent the latent of ``spec`` with condition number ``kappa`` (singular
    values spread geometrically from 1 to ``1 / kappa``, strongest direction first, rotated at
    random; the same map for both views), matched among ``candidates`` in the shifted world
    (:meth:`~clipbook.data.views.ViewSpec.shifted`): the matching
    accuracy must fall as ``kappa`` grows, by at least 0.2 from the balanced encoder to the most
    ill-conditioned one."""
    rng = torch.Generator().manual_seed(seed)
    shifted = sample_views([spec.shifted()], [seed], n, "ood")
    rotation, _ = torch.linalg.qr(torch.randn(spec.latent_dim, spec.latent_dim, generator=rng))
    accuracies = []
    for kappa in kappas:
        spread = torch.logspace(0, -float(np.log10(kappa)), spec.latent_dim)
        features = [x @ (rotation * spread @ torch.linalg.pinv(mixing[0])).T
                    for x, mixing in ((shifted.x_a, shifted.mixing_a), (shifted.x_b, shifted.mixing_b))]
        accuracies.append(float(matching_accuracy(*features, candidates)))
    falls = all(a > b for a, b in zip(accuracies, accuracies[1:]))
    ok = falls and accuracies[0] - accuracies[-1] >= 0.2
    return Control(f"encoders of condition number {', '.join(f'{k:g}' for k in kappas)} matched in the shifted world",
                   bool(ok), ", ".join(f"{a:.3f}" for a in accuracies))


def effective_robustness_control(baseline_id: Sequence[float], baseline_ood: Sequence[float], planted: float) -> Control:
    """The run's baseline models' ID accuracies, their OOD set on the fitted line, and twins whose
    OOD accuracy is ``planted`` higher: the twins' mean ER must read ``planted`` (within
    :data:`PLANTED_GAP_TOLERANCE` of it) and the models on the line 0 (within the same)."""
    line = fit_baseline(baseline_id, baseline_ood)
    ood = line.predict(baseline_id)
    keep = ood + planted < 1  # a twin needs room above its model
    name = f"twins of the baseline models {planted:g} above the line"
    if not keep.any():
        return Control(name, False, "no baseline model leaves room for the planted effect below an accuracy of 1")
    on_line = float(np.mean(line.effective_robustness(np.asarray(baseline_id)[keep], ood[keep])))
    twins = float(np.mean(line.effective_robustness(np.asarray(baseline_id)[keep], ood[keep] + planted)))
    ok = abs(twins - planted) <= PLANTED_GAP_TOLERANCE * planted and abs(on_line) <= PLANTED_GAP_TOLERANCE * planted
    return Control(name, bool(ok), f"ER {twins:.3f} (planted {planted:g}); on the line {on_line:.3f}")


def line_gap_control(points: pd.DataFrame, planted: float, at: float, n_boot: int = 200) -> Control:
    """The run's checkpoints of one arm (``id_accuracy``, ``ood_accuracy``, ``seed``), copied with
    ``planted`` added to their OOD accuracy: the line gap must read ``planted`` (within
    :data:`PLANTED_GAP_TOLERANCE`, its interval above 0), and the unchanged copy must read 0
    (its interval containing 0)."""
    twin = points.assign(ood_accuracy=points.ood_accuracy + planted)
    seen, null = line_gap(twin, points, at, n_boot=n_boot), line_gap(points.copy(), points, at, n_boot=n_boot)
    ok = abs(seen.mean - planted) <= PLANTED_GAP_TOLERANCE * planted and seen.lo > 0 and null.lo <= 0 <= null.hi
    return Control(f"the run's checkpoints copied {planted:g} higher, and unchanged", bool(ok),
                   f"gap {seen} (planted {planted:g}); unchanged {null}")


def frequency_correlation_control(frequencies: Sequence[float], per_class: int = 50, seed: int = 0) -> Control:
    """Two simulated classifiers on the chapter's class frequencies, ``per_class`` test samples a
    class: one whose accuracy and wrong guesses follow frequency (bias planted), one that is
    right 60% of the time in every class and guesses uniformly otherwise. The rank correlations
    (accuracy and predictions) must be at least 0.5 higher for the biased one."""
    f = np.asarray(frequencies, dtype=float)
    k = len(f)
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(k), per_class)
    share = f / f.sum()
    rank = np.argsort(np.argsort(f)) / max(k - 1, 1)

    def predict(p_right: np.ndarray, guess: np.ndarray) -> np.ndarray:
        right = rng.random(len(labels)) < p_right[labels]
        return np.where(right, labels, rng.choice(k, size=len(labels), p=guess))

    biased = frequency_correlations(confusion_matrix(labels, predict(0.2 + 0.7 * rank, share), k), f)
    fair = frequency_correlations(confusion_matrix(labels, predict(np.full(k, 0.6), np.full(k, 1 / k)), k), f)
    ok = biased.accuracy - fair.accuracy >= 0.5 and biased.predictions - fair.predictions >= 0.5
    return Control("a classifier biased towards frequent classes against a fair one", bool(ok),
                   f"rho accuracy {biased.accuracy:.2f} vs {fair.accuracy:.2f}; "
                   f"predictions {biased.predictions:.2f} vs {fair.predictions:.2f}")


def composition_codes(factors: np.ndarray, dim: int, mix: float, noise: float = 0.1, seed: int = 0) -> np.ndarray:
    """Codes of known structure for rows with factors ``[n, 2]``: an additive code (a random vector
    per attribute in the first half of the dimensions, one per object in the second half: the
    disentangled construction, axis-aligned as the metrics assume) mixed with weight ``mix`` into a
    random vector per composition (entangled by construction), plus isotropic ``noise``. ``mix`` 0
    is additive, 1 entangled."""
    rng = np.random.default_rng(seed)
    factors = np.asarray(factors)
    sizes = factors.max(axis=0) + 1
    half = dim // 2
    attribute = np.pad(rng.normal(size=(int(sizes[0]), half)), ((0, 0), (0, dim - half)))
    obj = np.pad(rng.normal(size=(int(sizes[1]), dim - half)), ((0, 0), (half, 0)))
    composition = rng.normal(size=(int(sizes[0]), int(sizes[1]), dim)) * np.sqrt(half / dim)
    additive = attribute[factors[:, 0]] + obj[factors[:, 1]]
    entangled = composition[factors[:, 0], factors[:, 1]]
    return (1 - mix) * additive + mix * entangled + noise * rng.normal(size=additive.shape)


def disentanglement_controls(factors: np.ndarray, dim: int, metrics: Sequence[str],
                             score: Callable[[np.ndarray, np.ndarray], Mapping[str, float]], seed: int = 0
                             ) -> tuple[dict[str, Control], pd.DataFrame]:
    """Each metric on additive, half-mixed and entangled codes (:func:`composition_codes`) of the
    chapter's own test rows ``factors`` and embedding ``dim``, scored by ``score`` (the chapter's
    own metric call). A metric passes when the additive codes score at least
    :data:`METRIC_SEPARATION` above the entangled ones and the mixed codes in between (a metric
    that cannot tell these apart cannot tell models apart either). Returns the controls and the
    scores."""
    mixes = {"additive": 0.0, "half mixed": 0.5, "entangled": 1.0}
    table = pd.DataFrame({name: score(composition_codes(factors, dim, mix, seed=seed), factors)
                          for name, mix in mixes.items()}).loc[list(metrics)]
    controls = {}
    for metric, row in table.iterrows():
        ok = (row["additive"] - row["entangled"] >= METRIC_SEPARATION
              and row["entangled"] <= row["half mixed"] <= row["additive"])
        controls[metric] = Control(f"{metric} on additive > half mixed > entangled codes (by 0.1 or more)", bool(ok),
                                   f"additive {row['additive']:.3f}, half mixed {row['half mixed']:.3f}, "
                                   f"entangled {row['entangled']:.3f}")
    return controls, table


def effective_rank_control(rankme: Callable[[np.ndarray], float], dim: int, n: int = 500, seed: int = 0) -> Control:
    """Codes in ``dim`` dimensions whose variance lies in 1, 2, 4, ... ``dim`` directions: the
    effective rank must rise with the number of directions."""
    rng = np.random.default_rng(seed)
    ranks = [r for r in (1, 2, 4, 8, 16, 32, 64) if r < dim] + [dim]
    reads = [rankme(rng.normal(size=(n, r)) @ rng.normal(size=(r, dim)) + 1e-3 * rng.normal(size=(n, dim)))
             for r in ranks]
    return Control(f"codes of rank {', '.join(map(str, ranks))}", bool(np.all(np.diff(reads) > 0)),
                   ", ".join(f"{v:.2f}" for v in reads))
