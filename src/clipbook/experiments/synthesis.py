"""Chapter 7: which mechanisms matter when all are present? A fractional factorial in the joint world.

The six knobs of :class:`~clipbook.data.joint.JointWorld` in the 16 runs of a resolution IV
two-level design (:data:`GENERATORS`): every main effect free of two-way interactions. Each run
is a tiny open_clip CLIP trained from scratch; each seed also trains the supervised twins on the
narrow (one-style) data at both coverages and both class profiles, whose checkpoints give the
seed's baseline line of effective robustness (Taori et al.'s and Fang et al.'s reading). Every run
is read three ways, the outcomes of the chapters: effective robustness on the unseen styles,
zero-shot accuracy on the unseen compositions, and how much its predictions follow the long
tail's class frequencies.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from clipbook.data.captions import WordTokenizer
from clipbook.data.diversity import ID
from clipbook.data.compositions import composition_pairs
from clipbook.data.joint import UNSEEN_COMPOSITIONS, JointWorld
from clipbook.data.render import ShapesData
from clipbook.device import default_device
from clipbook.evaluate import factorial
from clipbook.evaluate.classify import image_features
from clipbook.evaluate.controls import effective_robustness_control, frequency_correlation_control
from clipbook.evaluate.compositional import class_head, composition_accuracy, composition_head
from clipbook.evaluate.imbalance import confusion_matrix, frequency_correlations
from clipbook.evaluate.robustness import fit_baseline
from clipbook.evaluate.rules import Above, Decision, Within, joint
from clipbook.evaluate.stats import Interval, mean_ci
from clipbook.learners.sweeps import Sweep
from clipbook.learners.towers import train_classifier_measured
from clipbook.models.towers import create_clip, create_supervised
from clipbook.parallel import map_jobs
from clipbook.training.loop import TrainConfig
from clipbook.training.stacked import StackedModels, clip_loss_fn, fit

GENERATORS = ("a", "b", "c", "d", "abc", "bcd")
"""The design: the first four knobs in full, coverage = within x detail x negatives, long tail =
detail x negatives x diversity (defining relation I = ABCE = BCDF = ADEF, resolution IV)."""
OUTCOMES = {"er": "effective robustness on unseen styles", "c_ood": "accuracy on unseen compositions",
            "rho_predictions": "frequency bias of predictions"}
TWIN = "supervised twin"


def runs(world: JointWorld) -> pd.DataFrame:
    """The design's 16 runs: ``run`` and one -1 / +1 column per knob."""
    return factorial.design(list(world.knobs), GENERATORS).rename_axis("run").reset_index()


def twin_levels(design: pd.DataFrame) -> pd.DataFrame:
    """The supervised twins of a seed: the narrow data at every coverage and class profile of the design."""
    twins = design[["coverage", "long_tail"]].drop_duplicates().sort_values(["coverage", "long_tail"])
    return twins.assign(diversity=-1).reset_index(drop=True)


def _levels(world: JointWorld, row: dict) -> dict[str, int]:
    """The knob levels a design row sets (a twin's row sets only those of its data)."""
    return {k: int(row[k]) for k in world.knobs if k in row}


def _shift_columns(world: JointWorld, accuracies: dict[str, float]) -> dict[str, float]:
    """ID accuracy, each unseen style's, and their mean (``ood_accuracy``)."""
    styles = {f"acc_{s}": accuracies[s] for s in world.unseen_styles}
    return {"id_accuracy": accuracies[ID], "ood_accuracy": float(np.mean(list(styles.values()))), **styles}


def _frequency_bias(world: JointWorld, labels: torch.Tensor, predicted: torch.Tensor) -> float:
    """Spearman rho of the ID set's prediction counts with the long tail's class frequencies (the
    same order at both class profiles: where classes are equally frequent it reads no bias)."""
    k = len(world.shapes)
    return frequency_correlations(confusion_matrix(labels.numpy(), predicted.numpy(), k),
                                  world.frequencies(long_tail=True)).predictions


def run_clip(world: JointWorld, levels: dict[str, int], seed: int, config: TrainConfig, tests: dict[str, ShapesData],
             *, model_name: str = "tiny-rn", text_layers: int = 1, device: torch.device | None = None) -> dict:
    """One run: a CLIP trained on the run's data with the run's loss, read out zero-shot."""
    data = world.training_set(levels, seed)
    tokenizer = WordTokenizer(context_length=world.context_length)
    model = create_clip(model_name, seed=seed, text_cfg={"context_length": world.context_length, "layers": text_layers})
    stack = StackedModels([model], device or default_device())
    loss = clip_loss_fn(stack, data.images, tokenizer(data.captions), world.value("negatives", levels["negatives"]))
    fit(stack, loss, len(data.images), replace(config, seed=seed, log_every=0), desc="CLIP")
    features = {name: image_features(model, d.images) for name, d in tests.items()}
    head = class_head(model, tokenizer, world.classes(seed))
    predicted = {name: (f @ head.T).argmax(dim=1).cpu() for name, f in features.items()}
    accuracies = {name: float((predicted[name] == d.labels).float().mean()) for name, d in tests.items()}
    unseen = world.unseen_pairs(seed)
    c_ood = composition_accuracy(features[UNSEEN_COMPOSITIONS], composition_head(model, tokenizer, unseen), unseen,
                                 composition_pairs(tests[UNSEEN_COMPOSITIONS])).composition
    return {**levels, "seed": seed, "method": "CLIP", **_shift_columns(world, accuracies), "c_ood": c_ood,
            "rho_predictions": _frequency_bias(world, tests[ID].labels, predicted[ID])}


def run_twin(world: JointWorld, levels: dict[str, int], seed: int, config: TrainConfig, tests: dict[str, ShapesData],
             *, model_name: str = "tiny-rn", device: torch.device | None = None) -> list[dict]:
    """A supervised twin: the same image tower trained with cross-entropy on the run's images and
    labels, measured at every checkpoint (the baseline line's points); its last row also holds
    its frequency bias."""
    data = world.training_set(levels | {"within_captions": -1, "detail_captions": -1}, seed)
    model = create_supervised(model_name, len(world.shapes), seed=seed)
    shifted = {name: d for name, d in tests.items() if name != UNSEEN_COMPOSITIONS}
    table = train_classifier_measured([model], data.images, data.labels, shifted, replace(config, seed=seed),
                                      device or default_device(), desc=TWIN)
    rows = [{**levels, "seed": seed, "method": TWIN, "step": int(r["step"]), **_shift_columns(world, r)}
            for r in table.to_dict("records")]
    model.eval()
    with torch.no_grad():
        predicted = model(tests[ID].images.to(next(model.parameters()).device)).argmax(dim=1).cpu()
    rows[-1]["rho_predictions"] = _frequency_bias(world, tests[ID].labels, predicted)
    return rows


def run_sweep(world: JointWorld, seeds: Sequence[int], config: TrainConfig, *, twin_log_every: int,
              device: torch.device | None = None, **model) -> Sweep:
    """Every run of the design and every twin at every seed, one model per job, side by side on a
    CPU's cores. ``results``: one row per CLIP run; ``history``: the twins' checkpoints."""
    started = time.perf_counter()
    device = device or default_device()
    design, tests = runs(world), {seed: world.test_sets(seed) for seed in seeds}
    twin_config = replace(config, log_every=twin_log_every)
    twin_model = {k: v for k, v in model.items() if k != "text_layers"}
    jobs = [("CLIP", seed, _levels(world, r)) for seed in seeds for r in design.to_dict("records")]
    jobs += [(TWIN, seed, _levels(world, r)) for seed in seeds for r in twin_levels(design).to_dict("records")]
    done = map_jobs(lambda job: run_clip(world, job[2], job[1], config, tests[job[1]], device=device, **model)
                    if job[0] == "CLIP" else
                    run_twin(world, job[2], job[1], twin_config, tests[job[1]], device=device, **twin_model), jobs, device)
    clips = pd.DataFrame([d for d in done if isinstance(d, dict)]).merge(design, on=list(world.knobs))
    twins = pd.DataFrame([row for d in done if isinstance(d, list) for row in d])
    return Sweep(with_effective_robustness(clips, twins), time.perf_counter() - started, twins)


def with_effective_robustness(clips: pd.DataFrame, twins: pd.DataFrame) -> pd.DataFrame:
    """Each run's ``er``: its OOD accuracy minus the line its seed's twins' checkpoints draw at its ID accuracy."""
    parts = []
    for seed, frame in clips.groupby("seed"):
        base = twins[twins.seed == seed]
        line = fit_baseline(base.id_accuracy, base.ood_accuracy)
        parts.append(frame.assign(er=line.effective_robustness(frame.id_accuracy, frame.ood_accuracy)))
    return pd.concat(parts, ignore_index=True)


# ---------------------------------------------------------------- effects

def terms(world: JointWorld) -> list[str]:
    """Every estimable term: the six main effects, then one two-way interaction per alias chain."""
    return list(factorial.alias_chains(factorial.design(list(world.knobs), GENERATORS)).term)


def effect_table(results: pd.DataFrame, world: JointWorld) -> pd.DataFrame:
    """Per seed, every term's effect on every outcome: ``seed, term, effect, outcome``."""
    return pd.concat([factorial.effects(results, outcome, terms(world)).assign(outcome=outcome)
                      for outcome in OUTCOMES], ignore_index=True)


def effect_intervals(effects: pd.DataFrame) -> pd.DataFrame:
    """Mean effect over seeds with its 95% interval, per outcome and term, largest first."""
    rows = [{"outcome": outcome, "term": term, **ci._asdict()}
            for outcome, frame in effects.groupby("outcome", sort=False)
            for term, ci in factorial.effect_intervals(frame).items()]
    table = pd.DataFrame(rows).rename(columns={"mean": "effect", "n": "seeds"})
    return table.sort_values(["outcome", "effect"], key=lambda c: c.abs() if c.name == "effect" else c,
                             ascending=[True, False], ignore_index=True)


def largest_margin(effects: pd.DataFrame, knob: str, outcome: str, knobs: Sequence[str]) -> Interval:
    """Per seed, ``knob``'s effect on ``outcome`` minus the largest absolute main effect of the other
    knobs, with its interval over seeds: above 0 where ``knob``'s effect is the largest."""
    main = effects[(effects.outcome == outcome) & effects.term.isin(knobs)].pivot(index="seed", columns="term",
                                                                                  values="effect")
    others = main.drop(columns=knob).abs().max(axis=1)
    return mean_ci((main[knob] - others).to_numpy())


def twin_gap(results: pd.DataFrame, twins: pd.DataFrame) -> Interval:
    """Per seed, the twins' frequency bias minus CLIP's, both on narrow long-tailed data: above 0
    where CLIP's predictions follow class frequency less than supervised learning's."""
    clip = results[(results.long_tail > 0) & (results.diversity < 0)].groupby("seed").rho_predictions.mean()
    twin = twins[(twins.long_tail > 0)].dropna(subset=["rho_predictions"]).groupby("seed").rho_predictions.mean()
    return mean_ci((twin - clip).dropna().to_numpy())


# ---------------------------------------------------------------- claims

ER_SMALLEST = 0.02
"""Two points of OOD accuracy at equal ID accuracy: the smallest line gap of interest in Chapter 2."""
C_OOD_SMALLEST = 0.05
"""Five points of C-OoD accuracy, Chapter 5's smallest difference of interest."""
BIAS_SMALLEST = 0.44
"""The smallest SL - CLIP gap in rho of predictions Wen et al. report (LAIONet), Chapter 6's."""
_ER = "two points of OOD accuracy at equal ID accuracy (Chapter 2's smallest line gap)"


def claim_rules() -> dict:
    """Each claim's rule, as stated before the chapter's first full run."""
    return {
        "raises_er": Above(0.0, ER_SMALLEST, _ER, what="CI of the main effect on effective robustness"),
        "largest": Above(0.0, 0.0, "any margin: a tie with another knob is not 'largest'", power_at=ER_SMALLEST,
                         what="CI of diversity's effect minus the largest other main effect (absolute)"),
        "no_effect": Within(ER_SMALLEST, _ER, what="90% CI of the effect on effective robustness"),
        "raises_c_ood": Above(0.0, C_OOD_SMALLEST, "five points of C-OoD accuracy (Chapter 5's)",
                              what="CI of the main effect on C-OoD accuracy"),
        "less_bias": Above(0.0, BIAS_SMALLEST, "the smallest SL - CLIP gap Wen et al. report (LAIONet)",
                           what="CI of rho(twin) - rho(CLIP), predictions, long-tailed narrow data"),
    }


CLAIM_TERMS = {"a": ("raises_er", "diversity"), "c": ("no_effect", "within_captions x diversity"),
               "e": ("no_effect", "coverage"), "g": ("raises_er", "within_captions"),
               "h": ("raises_er", "detail_captions"), "i": ("raises_er", "negatives")}
"""The claims read off one term's effect on effective robustness: claim -> (rule, term)."""


def decide(effects: pd.DataFrame, results: pd.DataFrame, twins: pd.DataFrame, world: JointWorld,
           controls: dict) -> dict[str, Decision]:
    """Every claim's decision from the per-seed effects; ``controls``: ``er``, ``effects`` and
    ``bias`` (:class:`~clipbook.evaluate.rules.Control`), the instruments the claims rest on."""
    r = claim_rules()
    er = effects[effects.outcome == "er"]
    by_outcome = {o: factorial.effect_intervals(effects[effects.outcome == o]) for o in OUTCOMES}
    instrument = {"er": joint(controls["effects"], controls["er"]), "c_ood": controls["effects"], "bias": controls["bias"]}
    at = {c: factorial.effect_intervals(er, c) for c in {r[rule].confidence for rule, _ in CLAIM_TERMS.values()}}
    out = {claim: r[rule].decide(at[r[rule].confidence][term], name=term, control=instrument["er"])
           for claim, (rule, term) in CLAIM_TERMS.items()}
    out["b"] = r["largest"].decide(largest_margin(effects, "diversity", "er", list(world.knobs)),
                                   name="diversity minus the largest other", control=instrument["er"])
    out["d"] = r["raises_c_ood"].decide(by_outcome["c_ood"]["coverage"], name="coverage", control=instrument["c_ood"])
    out["f"] = r["less_bias"].decide(twin_gap(results, twins), name="twin minus CLIP", control=instrument["bias"])
    return dict(sorted(out.items()))


PLANTED = 0.05
"""The planted effect of the estimator's control, on a knob and on an interaction: two and a half
times the smallest effect on effective robustness of interest."""


def instrument_controls(results: pd.DataFrame, twins: pd.DataFrame, world: JointWorld, n_test: int) -> dict:
    """The controls the claims rest on: the effect estimator on planted effects at this run's
    seeds and spread of effective robustness (``effects``); the effective-robustness reading on
    twins planted :data:`ER_SMALLEST` above the first seed's baseline line (``er``); the frequency
    correlation on a simulated biased and a fair classifier (``bias``)."""
    seeds = sorted(results.seed.unique())
    spread = float(results.groupby("seed").er.std(ddof=1).mean())
    design = runs(world)[list(world.knobs)]
    base = twins[twins.seed == seeds[0]]
    return {"effects": factorial.planted_effects_control(design, {"diversity": PLANTED,
                                                                  "within_captions x diversity": PLANTED},
                                                         len(seeds), spread, seed=int(seeds[0])),
            "er": effective_robustness_control(base.id_accuracy, base.ood_accuracy, ER_SMALLEST),
            "bias": frequency_correlation_control(world.frequencies(long_tail=True),
                                                  per_class=n_test // len(world.shapes), seed=int(seeds[0]))}


KNOB_CLAIMS = {"within_captions": "g", "detail_captions": "h", "negatives": "i", "diversity": "a", "coverage": "d",
               "long_tail": "f"}
"""The claim that carries each knob's chapter into the joint world (the answer table names its verdict)."""


def findings(intervals: pd.DataFrame, world: JointWorld, decided: dict[str, Decision]) -> dict:
    """What the answer table reads of this run: each knob's chapter, the verdict of the claim that
    carries its chapter into this world, and its main effect on every outcome (ER first)."""
    main = intervals[intervals.term.isin(list(world.knobs))].sort_values(
        "outcome", key=lambda c: c.map(list(OUTCOMES).index), kind="stable")
    knobs = {k: {"chapter": knob.chapter, "what": knob.what, "claim": KNOB_CLAIMS[k],
                 "verdict": decided[KNOB_CLAIMS[k]].verdict} for k, knob in world.knobs.items()}
    return {"knobs": knobs, "outcomes": OUTCOMES,
            "main_effects": main[["outcome", "term", "effect", "lo", "hi", "seeds"]].to_dict("records")}
