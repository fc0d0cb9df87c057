"""Chapter 5: does disentanglement go with compositional generalization? (Abbasi et al., ECCV 2024)

Families of tiny CLIPs on :class:`~clipbook.data.compositions.CompositionWorld` differ in one
thing each: how many compositions training covers, how dependent attribute and object are in the
training pairs, how often captions mention the attributes, and the text tower (learned, or
frozen additive / entangled). Each model is read out on the compositions it never saw:
zero-shot accuracy, every disentanglement metric on its image and its text embeddings, and
embedding arithmetic.
"""

from __future__ import annotations

import time
from dataclasses import replace
from functools import partial
from typing import NamedTuple, Sequence

import numpy as np
import pandas as pd
import torch
from scipy import stats
from sklearn.ensemble import GradientBoostingClassifier

from clipbook.data.captions import WordTokenizer
from clipbook.data.compositions import (FACTORS, CompositionWorld, Compositions, caption_nmi, composition_pairs,
                                        training_pairs, unseen_compositions)
from clipbook.data.shapes import ATTRIBUTES
from clipbook.device import default_device
from clipbook.evaluate import compositional
from clipbook.evaluate.classify import accuracy, image_features
from clipbook.evaluate.controls import disentanglement_controls, effective_rank_control
from clipbook.evaluate.disentanglement import rankme, scores, z_diff
from clipbook.evaluate.rules import (Above, AtLeast, Below, Control, Decision, Significant, all_of,
                                     not_run)
from clipbook.evaluate.stats import Interval, mean_ci, paired_difference, spearman_ci
from clipbook.evaluate.zero_shot import ensemble_head
from clipbook.learners.sweeps import Sweep
from clipbook.models.text_towers import create_frozen_text_clip
from clipbook.models.towers import create_clip, model_config
from clipbook.parallel import map_jobs
from clipbook.training.loop import TrainConfig
from clipbook.training.stacked import StackedModels, clip_loss_fn, fit

TEXT_TOWERS = ("learned", "additive", "entangled")
PAPER_METRICS = ("z_diff", "informativeness", "dci_completeness", "explicitness", "dcimig")
"""The metrics Abbasi et al. report (Z-diff, DCI informativeness and completeness, explicitness, DCIMIG)."""
REFERENCE = "reference"


class Setting(NamedTuple):
    """One model family: a name and what it changes from the reference."""

    family: str
    text: str
    coverage: float
    dependence: float
    p_mention: float


def settings(reference_coverage: float, coverages: Sequence[float], dependences: Sequence[float],
             p_mentions: Sequence[float], text_towers: Sequence[str]) -> list[Setting]:
    """The reference (learned text tower, ``reference_coverage``, independent pairs, every
    attribute in every caption) and one family per other value of each knob, the rest as in the reference."""
    unknown = set(text_towers) - set(TEXT_TOWERS)
    if unknown:
        raise ValueError(f"text towers must be among {TEXT_TOWERS}, got {sorted(unknown)}")
    ref = Setting(REFERENCE, "learned", reference_coverage, 0.0, 1.0)
    runs = [ref]
    runs += [ref._replace(family=f"coverage {c:g}", coverage=c) for c in coverages if c != ref.coverage]
    runs += [ref._replace(family=f"dependent pairs {d:g}", dependence=d) for d in dependences if d != 0]
    runs += [ref._replace(family=f"captions {p:g}", p_mention=p) for p in p_mentions if p != 1]
    runs += [ref._replace(family=f"frozen {t} text", text=t) for t in text_towers if t != "learned"]
    if len(runs) < 2:
        raise ValueError("coverages, dependences, p_mentions and text_towers leave only the reference family: the "
                         "chapter compares families, so name at least one other")
    return runs


def create_model(setting: Setting, seed: int, world: CompositionWorld, tokenizer: WordTokenizer,
                 model_name: str = "tiny-vit", vision_layers: int = 1, text_layers: int = 1):
    """The family's model: an open_clip CLIP, or its image tower with a frozen text tower."""
    clip = create_clip(model_name, seed=seed, vision_cfg={"layers": vision_layers},
                       text_cfg={"context_length": world.context_length, "layers": text_layers})
    if setting.text == "learned":
        return clip
    words = world.factor_words()
    return create_frozen_text_clip(clip.visual, setting.text, tokenizer.words, words["colour"], words["shape"],
                                   seed=seed)


def _tracker(stack: StackedModels, test: Compositions, world: CompositionWorld, prompts: torch.Tensor,
             unseen: Sequence[tuple[str, str]]):
    """Checkpoint metrics: zero-shot accuracy on the unseen compositions and the image Z-diff."""
    x = stack.pixels(test.images.to(stack.device))
    labels = torch.tensor([list(unseen).index(p) for p in composition_pairs(test)])
    factors = test.factors(world)

    def metrics(params) -> dict[str, torch.Tensor]:
        image, text, _ = stack.evaluate(params, x, prompts)
        logits = image @ ensemble_head(text, len(unseen)).transpose(1, 2)
        zd = [z_diff(codes.float().cpu().numpy(), factors) for codes in image]
        return {"composition": accuracy(logits, labels), "z_diff": torch.tensor(zd)}

    return metrics


def run_model(world: CompositionWorld, setting: Setting, seed: int, config: TrainConfig, *, track: bool = False,
              dci_trees: int = 10, device: torch.device | None = None, **model_kwargs) -> tuple[dict, pd.DataFrame]:
    """Train one model of a family and read it out on its unseen compositions: a results row, and
    (with ``track``) the accuracy and image Z-diff at every logged step."""
    tokenizer = WordTokenizer(context_length=world.context_length)
    train = training_pairs(world, setting.coverage, setting.dependence, setting.p_mention, seed)
    test = unseen_compositions(world, setting.coverage, seed)
    unseen = sorted(set(world.held_out(setting.coverage, seed)))
    model = create_model(setting, seed, world, tokenizer, **model_kwargs)
    stack = StackedModels([model], device or default_device())
    prompts = tokenizer(compositional.prompt_ensembles(compositional.phrases(unseen)))
    tracker = _tracker(stack, test, world, prompts.to(stack.device), unseen) if track else None
    result = fit(stack, clip_loss_fn(stack, train.images, tokenizer(train.captions)), len(train.images),
                 replace(config, seed=seed), metrics=tracker, desc=setting.family)
    history = result.history[result.history.metric != "loss"].assign(family=setting.family, seed=seed)

    images = image_features(model, test.images)
    acc = compositional.composition_accuracy(images, compositional.composition_head(model, tokenizer, unseen),
                                             unseen, composition_pairs(test))
    text, text_factors = compositional.text_codes(model, tokenizer, unseen)
    dci_classifier = partial(GradientBoostingClassifier, n_estimators=dci_trees, random_state=seed)
    source = slice(0, len(test.images))  # as many training images as test images are the arithmetic's sources
    retrieval = compositional.arithmetic_retrieval(model, tokenizer, image_features(model, train.images[source]),
                                                   composition_pairs(train)[source], unseen)
    row = {**setting._asdict(), "seed": seed, "caption_nmi": caption_nmi(train.captions), **acc._asdict(),
           "chance": 1 / len(unseen), "retrieval": retrieval,
           **{f"image_{k}": v for k, v in scores(images.numpy(), test.factors(world), dci_classifier=dci_classifier,
                                                  seed=seed).items()},
           **{f"text_{k}": v for k, v in scores(text.numpy(), text_factors, dci_classifier=dci_classifier,
                                                 seed=seed).items()}}
    return row, history


def tracked(setting: Setting) -> bool:
    """The text-tower comparison is followed over training: the reference and the frozen towers."""
    return setting.family == REFERENCE or setting.text != "learned"


def run_sweep(world: CompositionWorld, runs: Sequence[Setting], seeds: Sequence[int], config: TrainConfig, *,
              device: torch.device | None = None, **kwargs) -> Sweep:
    """Every family at every seed, one model per job, the jobs side by side on a CPU's cores
    (:func:`~clipbook.parallel.map_jobs`); the same seed draws the same hold-out,
    scenes and initial image tower in every family."""
    started = time.perf_counter()
    device = device or default_device()
    jobs = [(seed, setting) for seed in seeds for setting in runs]
    per_job = map_jobs(lambda job: run_model(world, job[1], job[0], config, track=tracked(job[1]), device=device,
                                             **kwargs), jobs, device)
    rows, histories = zip(*per_job)
    return Sweep(pd.DataFrame(list(rows)), time.perf_counter() - started, pd.concat(histories, ignore_index=True))


# ---------------------------------------------------------------- claim statistics

def learned_text(results: pd.DataFrame) -> pd.DataFrame:
    """The CLIPs that learn their text tower (the families that differ in their data)."""
    return results[results.text == "learned"]


def family_differences(results: pd.DataFrame, column: str = "composition") -> tuple[float, float]:
    """Kruskal-Wallis H and p of ``column`` across the families of ``results``."""
    groups = [g[column].to_numpy() for _, g in results.groupby("family")]
    if len(groups) < 2:
        return float("nan"), float("nan")
    h, p = stats.kruskal(*groups)
    return float(h), float(p)


def correlations(results: pd.DataFrame, side: str, metrics: Sequence[str], target: str = "composition",
                 seed: int = 0) -> pd.DataFrame:
    """Spearman rho of each ``side`` ("image" / "text") metric with ``target`` over the models of
    ``results``, with a bootstrap 95% interval over models."""
    rows = []
    for metric in metrics:
        ci = spearman_ci(results[f"{side}_{metric}"], results[target], seed=seed)
        rows.append({"embedding": side, "metric": metric, "rho": ci.mean, "lo": ci.lo, "hi": ci.hi, "models": ci.n})
    return pd.DataFrame(rows)


def positive(table: pd.DataFrame) -> int:
    """How many correlations of a :func:`correlations` table have their interval above zero."""
    return int((table.lo > 0).sum())


def family_gap(results: pd.DataFrame, column: str, a: str, b: str) -> Interval:
    """``column`` of family ``a`` minus family ``b``, paired by seed, with its 95% interval."""
    return paired_difference(results, column, "family", a, b)


def rise_over_training(history: pd.DataFrame, family: str, metric: str = "z_diff") -> Interval:
    """The change of ``metric`` from the first logged step (the untrained model) to the last, per seed."""
    rows = history[(history.family == family) & (history.metric == metric)]
    first, last = rows.step.min(), rows.step.max()
    wide = rows.pivot_table(index="seed", columns="step", values="value")
    return mean_ci((wide[last] - wide[first]).to_numpy())


def metric_gaps(results: pd.DataFrame, side: str, metrics: Sequence[str], a: str, b: str) -> pd.DataFrame:
    """:func:`family_gap` of each ``side`` metric between families ``a`` and ``b``."""
    rows = [{"metric": m, **family_gap(results, f"{side}_{m}", a, b)._asdict()} for m in metrics]
    return pd.DataFrame(rows).rename(columns={"mean": "gap", "n": "seeds"})[["metric", "gap", "lo", "hi", "seeds"]]


def interval_text(table: pd.DataFrame, value: str) -> str:
    """'z_diff 0.41 [0.10, 0.66]; ...' for a table of intervals (a claim's measured column)."""
    return "; ".join(f"{r.metric} {getattr(r, value):.2f} [{r.lo:.2f}, {r.hi:.2f}]" for r in table.itertuples())


# ---------------------------------------------------------------- instruments and claims

def metric_controls(world: CompositionWorld, coverage: float, seed: int, model_name: str, dci_trees: int
                    ) -> tuple[dict[str, Control], pd.DataFrame]:
    """Every metric the claims read, on codes of known structure (additive, half mixed, entangled:
    :func:`~clipbook.evaluate.controls.disentanglement_controls`) for the rows of this world's
    test set at ``coverage`` and ``seed``, in the embedding dimension of ``model_name``, scored as
    the models are (DCI with ``dci_trees`` trees); and the effective rank on codes of known rank."""
    factors = unseen_compositions(world, coverage, seed).factors(world)
    dim = model_config(model_name)["embed_dim"]
    classifier = partial(GradientBoostingClassifier, n_estimators=dci_trees, random_state=seed)
    found, table = disentanglement_controls(factors, dim, PAPER_METRICS,
                                            partial(scores, dci_classifier=classifier, seed=seed), seed=seed)
    return found | {"rankme": effective_rank_control(rankme, dim, seed=seed)}, table


C_OOD_SMALLEST = 0.05
"""The smallest difference in C-OoD accuracy of interest: five points, about one chance level of the
16 unseen compositions (the paper reports no effect size for its factors)."""
_RHO = "a moderate rank correlation (0.3); the paper reports none"
_ACCURACY = "five points of C-OoD accuracy, about one chance level"
def claim_rules(chance: float) -> dict:
    """Each claim's rule, as stated before the run; ``chance`` is one over the unseen compositions."""
    return {
        "differ": Significant(0.05, "Kruskal-Wallis over the learned-text families",
                              "one family five points of C-OoD accuracy from the others"),
        "above_chance": Above(chance, chance + C_OOD_SMALLEST, _ACCURACY, what="CI of the reference's C-OoD accuracy"),
        "correlation": AtLeast(3, Above(0.0, 0.3, _RHO, what="bootstrap CI of Spearman rho with C-OoD accuracy",
                                        unit="models")),
        "accuracy_gap": Above(0.0, C_OOD_SMALLEST, _ACCURACY, what="CI of the paired difference in C-OoD accuracy"),
        "metric_gaps": AtLeast(3, Above(0.0, 0.1, "a tenth of a metric's range (the metrics' control separation)",
                                        what="CI of the paired difference")),
        "rank": Below(0.0, -0.3, _RHO, what="bootstrap CI of Spearman rho(RankMe, C-OoD accuracy)", unit="models"),
        "rise": Above(0.0, 0.1, "a tenth of Z-diff's range", what="CI of image Z-diff, last step minus step 0"),
    }


def family_difference_power(n_families: int, n_seeds: int, sd: float, effect: float = C_OOD_SMALLEST,
                            alpha: float = 0.05, draws: int = 2000, seed: int = 0) -> float:
    """The chance that the Kruskal-Wallis test finds ``n_families`` families of ``n_seeds`` different
    (p < ``alpha``) when one of them lies ``effect`` from the rest and seeds spread with ``sd``
    (normal, simulated): the power of claim a's test."""
    if n_families < 2 or n_seeds < 2 or not sd > 0:
        return float("nan")
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, sd, size=(draws, n_families, n_seeds))
    x[:, 0] += effect
    found = [stats.kruskal(*groups).pvalue < alpha for groups in x]
    return float(np.mean(found))


def _side_intervals(table: pd.DataFrame) -> dict[str, Interval]:
    return {r.metric: Interval(r.rho, r.lo, r.hi, int(r.models)) for r in table.itertuples()}


def decide(results: pd.DataFrame, history: pd.DataFrame, reference_coverage: float, runs: Sequence[Setting],
           instruments: dict[str, Control]) -> dict[str, Decision]:
    """Every claim's decision (a-h) from the sweep's results and training history; each claim on a
    metric counts only the metrics whose control passed (``instruments``, by metric name)."""
    r = claim_rules(float(results.chance.iloc[0]))
    learned = learned_text(results)
    _, p_families = family_differences(learned)
    sd = float(learned.groupby("family").composition.std(ddof=1).mean())
    power = family_difference_power(learned.family.nunique(), int(learned.groupby("family").size().min()), sd)
    reference = results[results.family == REFERENCE]
    out = {"a": all_of({"families": r["differ"].decide(p_families, power),
                        "reference": r["above_chance"].decide(mean_ci(reference.composition))})}
    fixed = results[results.coverage == reference_coverage]
    for claim_id, side, rows in (("b", "image", results), ("c", "text", results), ("d", "image", fixed)):
        out[claim_id] = r["correlation"].decide(_side_intervals(correlations(rows, side, PAPER_METRICS)), instruments)
    dependent = sorted((s for s in runs if s.dependence > 0), key=lambda s: s.dependence)
    out["e"] = (r["accuracy_gap"].decide(family_gap(results, "composition", REFERENCE, dependent[-1].family))
                if dependent else not_run("no dependent-pairs family"))
    frozen = {s.text: s.family for s in runs if s.text != "learned"}
    if {"additive", "entangled"} <= set(frozen):
        gaps = {m: family_gap(results, f"image_{m}", frozen["additive"], frozen["entangled"]) for m in PAPER_METRICS}
        out["f"] = all_of({"accuracy": r["accuracy_gap"].decide(
                               family_gap(results, "composition", frozen["additive"], frozen["entangled"])),
                           "image metrics": r["metric_gaps"].decide(gaps, instruments)})
    else:
        out["f"] = not_run("no frozen additive and entangled text towers")
    rank = correlations(results, "image", ["rankme"]).iloc[0]
    out["g"] = r["rank"].decide(Interval(rank.rho, rank.lo, rank.hi, int(rank.models)), control=instruments["rankme"])
    out["h"] = r["rise"].decide(rise_over_training(history, REFERENCE), control=instruments["z_diff"])
    return out
