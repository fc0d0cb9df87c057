"""Chapter 6: why CLIP resists long-tailed data -- dynamic classification (Wen et al., NeurIPS 2024).

Linear CLIP models and CLIP-like supervised classifiers (normalized prototypes, learned
temperature) train on the same long-tailed :class:`~clipbook.data.imbalance.ImbalanceWorld`
data, every seed stacked into one tensor program per method. Supervised learning is also run with
Wen et al.'s vocabulary subsampling (each batch's loss over the classes present plus sampled
others), and with a frozen head made of a CLIP model's text embeddings of the class names.
Everything is read out on balanced test sets: accuracy, tail accuracy, and how much per-class
accuracy and prediction counts follow the training frequency.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import NamedTuple, Sequence

import numpy as np
import pandas as pd
import torch

from clipbook.data.frequencies import profile_weights
from clipbook.data.imbalance import ImbalanceWorld, sample
from clipbook.device import default_device
from clipbook.evaluate.imbalance import confusion_matrix, frequency_correlations
from clipbook.evaluate.stats import Interval, mean_ci, paired_difference
from clipbook.evaluate.rules import Above, Below, Control, Decision, all_of, not_run
from clipbook.evaluate.zero_shot import linear_head
from clipbook.learners.linear import prototype_logits, stack_batches, train_mmcl, train_prototype_sl
from clipbook.learners.sweeps import Sweep
from clipbook.models import linear
from clipbook.training.loop import TrainConfig

WEIGHTINGS = ("uniform", "sqrt", "frequency")
CLIP, SL = "CLIP", "SL"
NAMES, INFORMATIVE, NUISANCE = "class names", "+ the class's attribute", "+ nuisance details"
"""Claim d's captions: class names only; with a word for the class's visual attribute (a
description that carries information about the class); with words for the image's nuisance
details (one that carries none, the control)."""
FROZEN = "SL, frozen CLIP head"
OWN_WORDS, SHARED_WORDS = "own words", "shared words"
"""Trim-tail's two worlds: class names of a word of their own (the paper's analogue: only a
pre-trained text tower knows a trimmed class's name) and names that share words with other classes."""
SCRATCH, LOCKED, PRETRAINED = "CLIP from scratch", "CLIP, pre-trained text tower", "SL, pre-trained head"
"""Trim-tail's arms besides SL (Wen et al.'s Fig. 8): CLIP whose towers both learn on the trimmed
data; CLIP whose text tower is pre-trained and locked (the paper's OpenAI text encoder); SL whose
head is the pre-trained tower's embeddings of the class names (and the same with a subsampled
vocabulary, :func:`pretrained_subsampled`)."""
PAPER_RHO = pd.DataFrame(
    {"accuracy SL": [0.52, 0.63, 0.64], "accuracy CLIP": [0.28, 0.52, 0.41],
     "predictions SL": [0.57, 0.76, 0.82], "predictions CLIP": [0.08, 0.32, 0.14]},
    index=["ImageNet-Captions", "LAIONet", "YFCC-15M"])
"""Wen et al.'s Spearman rho of class frequency with per-class accuracy and with prediction counts."""


class Variant(NamedTuple):
    """One trained method: CLIP, or SL with an optional subsampled vocabulary and frozen text head."""

    name: str
    vocab_size: int | None = None
    weighting: str | None = None
    frozen_head: bool = False


def check_settings(world: ImbalanceWorld, *, n_train: int, seed: int, vocab_sizes: Sequence[int],
                   weightings: Sequence[str], data_fractions: Sequence[float], trim_tail: int, tail_cap: int,
                   open_adjectives: int) -> None:
    """Refuse, before any training, values that are within their bounds but that one of the
    chapter's sweeps could not run with: every world it builds is built and its counts drawn once."""
    unknown = sorted(set(weightings) - set(WEIGHTINGS))
    if not weightings or unknown:
        raise ValueError(f"weightings must name at least one of {WEIGHTINGS}, got {list(weightings)}")
    too_big = [v for v in vocab_sizes if v >= world.n_classes]
    if too_big:
        raise ValueError(f"vocab_sizes {too_big} subsample nothing: a vocabulary must hold fewer than the "
                         f"{world.n_classes} classes")
    worlds = {"the main sweep": (world, n_train),
              "the data-scale sweep": (world, scaled_size(n_train, min(data_fractions))),
              "the open-world sweep": (replace(world, open_adjectives=open_adjectives), n_train)}
    for what, (w, n) in worlds.items():
        try:
            w.counts(n, seed)
            weights = profile_weights(w.profile, w.n_trained_classes, w.alpha)
        except ValueError as err:
            raise ValueError(f"{what} cannot draw its training set: {err}") from None
        if np.count_nonzero(weights) < 2 or np.ptp(weights) == 0:
            shape = "every class is as frequent as the others" if np.ptp(weights) == 0 else "one class holds every count"
            raise ValueError(f"{what}: {shape}; a balanced profile has no frequency to correlate with (a power law "
                             "needs alpha above 0, a frequency file at least two different positive counts)")
    if not 0 < trim_tail < world.n_classes:
        raise ValueError(f"trim_tail must cut some but not all of the {world.n_classes} classes, got {trim_tail}")
    replace(world, trim_tail=trim_tail, tail_cap=tail_cap)


def variants(vocab_sizes: Sequence[int], weightings: Sequence[str], n_classes: int) -> list[Variant]:
    """CLIP, SL, SL with every (vocabulary size, weighting), and SL on CLIP's frozen text head with
    and without the smallest subsampled vocabulary (frequency-weighted where it was asked for)."""
    unknown = set(weightings) - set(WEIGHTINGS)
    if unknown:
        raise ValueError(f"weightings must be among {WEIGHTINGS}, got {sorted(unknown)}")
    runs = [Variant(CLIP), Variant(SL)]
    runs += [Variant(f"SL, vocabulary {v} ({w})", v, w) for v in vocab_sizes for w in weightings if v < n_classes]
    runs.append(Variant(FROZEN, frozen_head=True))
    if vocab_sizes and min(vocab_sizes) < n_classes:
        w = "frequency" if "frequency" in weightings else weightings[0]
        runs.append(Variant(f"{FROZEN} + vocabulary {min(vocab_sizes)}", min(vocab_sizes), w, True))
    return runs


def sampling_weights(counts: torch.Tensor, weighting: str) -> torch.Tensor:
    """``(M, K)`` weights of the classes drawn to top up a batch's vocabulary."""
    return {"uniform": torch.ones_like(counts), "sqrt": counts.sqrt(), "frequency": counts}[weighting].float()


def scores(logits: torch.Tensor, labels: torch.Tensor, counts: torch.Tensor, tail_share: float) -> list[dict]:
    """Per model: accuracy, tail accuracy (the rarest ``tail_share`` of the classes), and Spearman
    rho of class frequency with per-class accuracy and with prediction counts."""
    rows = []
    n_classes = counts.shape[1]
    for m in range(len(logits)):
        confusion = confusion_matrix(labels[m].cpu().numpy(), logits[m].argmax(-1).cpu().numpy(), n_classes)
        per_class = np.diag(confusion) / confusion.sum(axis=1)
        tail = np.argsort(counts[m].cpu().numpy(), kind="stable")[:max(1, round(tail_share * n_classes))]
        rho = frequency_correlations(confusion, counts[m].cpu().numpy())
        rows.append({"accuracy": float(per_class.mean()), "tail_accuracy": float(per_class[tail].mean()),
                     "rho_accuracy": rho.accuracy, "rho_predictions": rho.predictions,
                     "per_class": per_class, "counts": counts[m].cpu().numpy()})
    return rows


def run_sweep(world: ImbalanceWorld, seeds: Sequence[int], runs: Sequence[Variant], *, n_train: int, n_test: int,
              embed_dim: int, config: TrainConfig, tail_share: float = 0.2,
              device: torch.device | None = None) -> Sweep:
    """Every variant at every seed (seeds stacked): one row per (variant, seed); ``history`` holds
    each model's per-class accuracy against its training count. Models train on all of the
    world's classes (open-world ones included) and are scored among the tested classes."""
    if world.open_adjectives and any(run.frozen_head for run in runs):
        raise ValueError("a frozen CLIP head has rows for the tested classes only; run it without open_adjectives")
    started = time.perf_counter()
    device = device or default_device()
    train, test, counts, prompts = _draw(world, seeds, n_train, n_test, device)
    tested = slice(0, world.n_classes)
    if any(run.name == CLIP or run.frozen_head for run in runs):
        clip = train_mmcl(train, embed_dim, config, desc=CLIP)
        clip_head = linear.encode(clip["text"], prompts)
    rows, per_class = [], []
    for run in runs:
        if run.name == CLIP:
            logits = torch.bmm(test.x, linear_head(clip, prompts).transpose(1, 2))
        else:
            logits = _sl_logits(run, train, test, counts, embed_dim, config, clip_head if run.frozen_head else None)
            logits = logits[..., tested]
        _score(run, seeds, logits, test.y, counts[:, tested], tail_share, rows, per_class)
    return Sweep(pd.DataFrame(rows), time.perf_counter() - started, pd.concat(per_class, ignore_index=True))


def _draw(world: ImbalanceWorld, seeds: Sequence[int], n_train: int, n_test: int, device: torch.device):
    """Every seed's training and test sets (stacked), training counts per trained class, and the
    class-name prompts of the tested classes."""
    train = stack_batches([sample(world, s, "train", n_train) for s in seeds], device)
    test = stack_batches([sample(world, s, "id", n_test) for s in seeds], device)
    counts = torch.stack([torch.bincount(y, minlength=world.n_trained_classes) for y in train.y])
    return train, test, counts, world.class_names().to(device).expand(len(seeds), -1, -1)


def _sl_logits(run: Variant, train, test, counts: torch.Tensor, embed_dim: int, config: TrainConfig,
               head: torch.Tensor | None) -> torch.Tensor:
    """One SL variant trained on ``train`` (subsampled as the variant asks, on a fixed ``head`` if
    given) and its test logits over every trained class."""
    weights = sampling_weights(counts, run.weighting) if run.weighting else None
    params = train_prototype_sl(train, counts.shape[1], embed_dim, config, vocab_size=run.vocab_size,
                                weights=weights, head=head, desc=run.name)
    return prototype_logits(params, test.x, head)


def _score(run: Variant, seeds: Sequence[int], logits: torch.Tensor, labels: torch.Tensor, counts: torch.Tensor,
           tail_share: float, rows: list[dict], per_class: list[pd.DataFrame]) -> None:
    """Append one variant's row per seed (:func:`scores`) and its per-class accuracies."""
    for seed, row in zip(seeds, scores(logits.detach(), labels, counts, tail_share)):
        per_class.append(pd.DataFrame({"method": run.name, "seed": seed, "class": range(counts.shape[1]),
                                       "count": row.pop("counts"), "accuracy": row.pop("per_class")}))
        rows.append({**run._asdict(), "method": run.name, "seed": seed, **row})


def pretrained_subsampled(vocab_size: int) -> str:
    """The name of trim-tail's arm: SL on the pre-trained head with a subsampled vocabulary."""
    return f"{PRETRAINED} + vocabulary {vocab_size}"


def trim_sweep(world: ImbalanceWorld, seeds: Sequence[int], *, vocab_size: int, weighting: str, n_pretrain: int,
               n_train: int, n_test: int, embed_dim: int, config: TrainConfig, tail_share: float = 0.2,
               device: torch.device | None = None) -> Sweep:
    """Wen et al.'s trim-tail (Sec. 4.1, Fig. 8) in ``world``, whose ``trim_tail`` rarest classes are
    cut to ``tail_cap`` examples. A CLIP pre-trained on ``n_pretrain`` pairs of the same world,
    balanced over its classes and disjoint from the training data (the ``pretrain`` split: the
    analogue of a text encoder pre-trained on the web), gives the pre-trained text tower. On the
    trimmed training data then: CLIP from scratch, CLIP with the pre-trained text tower locked, SL
    with a learned head, SL on the pre-trained tower's class-name embeddings, and the same with a
    subsampled vocabulary (``vocab_size``, ``weighting``). One row per (arm, seed)."""
    if world.open_adjectives:
        raise ValueError("trim-tail scores the tested classes only; run it without open_adjectives")
    started = time.perf_counter()
    device = device or default_device()
    train, test, counts, prompts = _draw(world, seeds, n_train, n_test, device)
    corpus = stack_batches([sample(world, s, "pretrain", n_pretrain) for s in seeds], device)
    text = train_mmcl(corpus, embed_dim, config, desc="pre-training")["text"]
    head = linear.encode(text, prompts)
    rows, per_class = [], []
    for name, frozen in ((SCRATCH, None), (LOCKED, text)):
        clip = train_mmcl(train, embed_dim, config, desc=name, frozen_text=frozen)
        logits = torch.bmm(test.x, linear_head(clip, prompts).transpose(1, 2))
        _score(Variant(name), seeds, logits, test.y, counts, tail_share, rows, per_class)
    for run in (Variant(SL), Variant(PRETRAINED, frozen_head=True),
                Variant(pretrained_subsampled(vocab_size), vocab_size, weighting, True)):
        logits = _sl_logits(run, train, test, counts, embed_dim, config, head if run.frozen_head else None)
        _score(run, seeds, logits, test.y, counts, tail_share, rows, per_class)
    return Sweep(pd.DataFrame(rows), time.perf_counter() - started, pd.concat(per_class, ignore_index=True))


def gap(results: pd.DataFrame, value: str, a: str, b: str) -> Interval:
    """``value`` of method ``a`` minus method ``b``, paired by seed."""
    return paired_difference(results, value, "method", a, b)


def trimmed_accuracy(per_class: pd.DataFrame, world: ImbalanceWorld) -> pd.DataFrame:
    """Mean accuracy on the classes trim-tail cut, per (method, seed)."""
    cut = pd.concat([pd.DataFrame({"seed": s, "class": world.trimmed(s)}) for s in per_class.seed.unique()])
    rows = per_class.merge(cut, on=["seed", "class"])
    return rows.groupby(["method", "seed"], as_index=False).accuracy.mean()


def subsampling_effect(small: pd.DataFrame, large: pd.DataFrame, subsampled: str) -> Interval:
    """How much less the subsampled vocabulary lowers the prediction bias when batches hold
    most classes: [rho(SL) - rho(subsampled)] at the small batch minus the same at the large batch."""
    def effect(results):
        wide = results.pivot_table(index="seed", columns="method", values="rho_predictions")
        return wide[SL] - wide[subsampled]

    return mean_ci((effect(small) - effect(large)).to_numpy())


def caption_sweep(world: ImbalanceWorld, seeds: Sequence[int], *, n_attributes: int, attribute_described: float,
                  descriptive: float, **sweep) -> pd.DataFrame:
    """CLIP on the same images (a world whose classes carry one of ``n_attributes`` visual
    attributes) with three kinds of caption (:data:`NAMES`, :data:`INFORMATIVE`, :data:`NUISANCE`):
    one row per (captions, seed)."""
    base = replace(world, n_attributes=n_attributes)
    worlds = {NAMES: base, INFORMATIVE: replace(base, attribute_described=attribute_described),
              NUISANCE: replace(base, descriptive=descriptive)}
    return pd.concat([run_sweep(w, seeds, [Variant(CLIP)], **sweep).results.assign(captions=name)
                      for name, w in worlds.items()], ignore_index=True)


def scaled_size(n_train: int, fraction: float) -> int:
    """Training pairs of the data-scale sweep's ``fraction`` data set (at least one): what the sweep
    trains on and :func:`check_settings` checks up front."""
    return max(1, round(n_train * fraction))


def scale_sweep(world: ImbalanceWorld, seeds: Sequence[int], fractions: Sequence[float], *, n_train: int,
                **sweep) -> pd.DataFrame:
    """CLIP and SL on each ``fraction`` of ``n_train`` pairs (the same long-tailed profile, the same
    steps), Wen et al.'s data-scale sweep (their Fig. 5b): one row per (method, seed, fraction)."""
    runs = [Variant(CLIP), Variant(SL)]
    return pd.concat([run_sweep(world, seeds, runs, n_train=scaled_size(n_train, f), **sweep).results.assign(fraction=f)
                      for f in fractions], ignore_index=True)


def scale_effect(scale: pd.DataFrame, value: str = "rho_accuracy") -> dict[str, Interval]:
    """Per method, ``value`` on the smallest data set minus on all of it (``fraction`` 1), paired by
    seed, and CLIP's change minus SL's (``difference``)."""
    wide = scale.pivot_table(index="seed", columns=["method", "fraction"], values=value)
    smallest = scale.fraction.min()
    change = {m: wide[m][smallest] - wide[m][1.0] for m in (CLIP, SL)}
    return {CLIP: mean_ci(change[CLIP].to_numpy()), SL: mean_ci(change[SL].to_numpy()),
            "difference": mean_ci((change[CLIP] - change[SL]).to_numpy())}


def paired_change(before: pd.DataFrame, after: pd.DataFrame, value: str = "rho_predictions") -> dict[str, Interval]:
    """Per method run in both sweeps, ``value`` in ``before`` minus in ``after``, paired by seed."""
    wide = [r.pivot_table(index="seed", columns="method", values=value) for r in (before, after)]
    return {m: mean_ci((wide[0][m] - wide[1][m]).to_numpy()) for m in wide[1].columns if m in wide[0]}


# ---------------------------------------------------------------- claims

RHO_SMALLEST = 0.1
"""The smallest change of a frequency rank correlation of interest where the paper gives no number: a
tenth of its range from 0 to 1."""
_RHO = "a tenth of the correlation's range (the paper gives no number here)"


def claim_rules() -> dict:
    """Each claim's rule, as stated before the run. Claim a's smallest effects are Wen et al.'s own:
    the smallest SL - CLIP gap they report over their three data sets (Fig. 1b, Fig. 11)."""
    paper = {m: float((PAPER_RHO[f"{m} SL"] - PAPER_RHO[f"{m} CLIP"]).min()) for m in ("accuracy", "predictions")}
    because = "the smallest SL - CLIP gap Wen et al. report over their three data sets (LAIONet)"
    return {
        "accuracy_bias": Above(0.0, round(paper["accuracy"], 2), because, what="CI of rho(SL) - rho(CLIP), accuracy"),
        "prediction_bias": Above(0.0, round(paper["predictions"], 2), because,
                                 what="CI of rho(SL) - rho(CLIP), predictions"),
        "rho_drop": Above(0.0, RHO_SMALLEST, _RHO, what="CI of the fall in rho of predictions"),
        "scale_drop": Above(0.0, RHO_SMALLEST, _RHO, what="CI of the fall in rho(frequency, accuracy) from the smallest "
                                                          "data set to all of it"),
        "scale_drop_vs_sl": Above(0.0, RHO_SMALLEST, _RHO, what="CI of CLIP's fall in rho(frequency, accuracy) from the "
                                                                "smallest data set to all of it minus SL's"),
        "accuracy_gain": Above(0.0, 0.02, "two accuracy points", what="CI of the accuracy gain"),
        "matches": Above(-0.05, -0.05, "five points below CLIP, the claim's margin; power at CLIP's level",
                         power_at=0.0, what="CI of trimmed-class accuracy minus CLIP's"),
        "below": Below(0.0, -0.05, "five points below CLIP, the margin of the claim's other half",
                       what="CI of trimmed-class accuracy minus CLIP's"),
        "fails": Above(0.0, 0.05, "five points of trimmed-class accuracy (Wen et al. see about ten to fifteen)",
                       what="CI of trimmed-class accuracy, pre-trained text tower minus from scratch"),
        "shared": Above(0.0, 0.05, "five points of trimmed-class accuracy",
                        what="CI of from-scratch CLIP's trimmed-class accuracy, names that share words minus "
                             "names of their own"),
    }


def decide(results: pd.DataFrame, large: pd.DataFrame, captions: pd.DataFrame, trimmed: pd.DataFrame,
           scale: pd.DataFrame, closed: pd.DataFrame, opened: pd.DataFrame, subsampled: str | None,
           control: Control) -> dict[str, Decision]:
    """Every claim's decision (a-k) from the chapter's sweeps; the claims on a frequency correlation
    stand only where its control (:func:`~clipbook.evaluate.controls.frequency_correlation_control`)
    saw a planted bias. ``trimmed``: :func:`trimmed_accuracy` of both trim-tail sweeps, with
    ``names`` :data:`OWN_WORDS` or :data:`SHARED_WORDS`."""
    r = claim_rules()
    out = {"a": all_of({"accuracy": r["accuracy_bias"].decide(gap(results, "rho_accuracy", SL, CLIP), control=control),
                        "predictions": r["prediction_bias"].decide(gap(results, "rho_predictions", SL, CLIP),
                                                                   control=control)})}
    if subsampled is None:
        out["b"] = out["c"] = not_run("no subsampled vocabulary")
    else:
        out["b"] = r["rho_drop"].decide(gap(results, "rho_predictions", SL, subsampled), control=control)
        out["c"] = r["rho_drop"].decide(subsampling_effect(results, large, subsampled), control=control)
    by_captions = captions.assign(method=captions.captions)
    out["d"] = all_of({"bias": r["rho_drop"].decide(gap(by_captions, "rho_predictions", NAMES, INFORMATIVE),
                                                    control=control),
                       "accuracy": r["accuracy_gain"].decide(gap(by_captions, "accuracy", INFORMATIVE, NAMES))})
    own = trimmed[trimmed.names == OWN_WORDS]
    with_vocabulary = next((m for m in own.method.unique() if m.startswith(f"{PRETRAINED} + ")), None)
    out["e"] = (all_of({"pre-trained head + subsampling": r["matches"].decide(gap(own, "accuracy", with_vocabulary,
                                                                                   LOCKED)),
                        "pre-trained head alone": r["below"].decide(gap(own, "accuracy", PRETRAINED, LOCKED))})
                if with_vocabulary else not_run("no subsampled vocabulary on the pre-trained head"))
    out["j"] = r["fails"].decide(gap(own, "accuracy", LOCKED, SCRATCH))
    out["k"] = r["shared"].decide(paired_difference(trimmed[trimmed.method == SCRATCH], "accuracy", "names",
                                                    SHARED_WORDS, OWN_WORDS))
    scaled = scale_effect(scale)
    out["f"] = r["scale_drop"].decide(scaled[CLIP], control=control)
    out["i"] = r["scale_drop_vs_sl"].decide(scaled["difference"], control=control)
    concepts = paired_change(closed, opened)
    out["g"] = r["rho_drop"].decide(concepts[CLIP], control=control)
    out["h"] = r["rho_drop"].decide(concepts[SL], control=control)
    return out
