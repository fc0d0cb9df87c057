"""Chapter 4: is the training distribution the cause of CLIP's effective robustness? (Fang et al. 2022)

In :class:`~clipbook.data.diversity.DiversityWorld` every model is an open_clip tower trained
from scratch, and the five candidate causes are switched one at a time, with everything else
(classes, scenes, steps, architecture, seed) held fixed. Each factor is tested the way the paper
tested it: size by subsampling the diverse set, language and loss by an image-only SimCLR model
fine-tuned on labels read off the captions, language at test time by zero-shot heads with and
without prompt templates. Effects are read between models of the same ID accuracy
(:func:`factor_effects`), and a leave-one-style-out arm separates diversity from coverage of
the test styles (:func:`coverage_effects`).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Literal, NamedTuple, Sequence

import numpy as np
import pandas as pd
import torch

from clipbook.data.captions import WordTokenizer, caption_labels, zero_shot_prompts
from clipbook.data.diversity import DiversityWorld, accuracy_columns, test_sets, training_set
from clipbook.data.render import ShapesData
from clipbook.device import default_device
from clipbook.evaluate.classify import image_features, linear_probe, probe_accuracy
from clipbook.evaluate.robustness import BaselineFit, final_difference, fit_baseline, matched_difference
from clipbook.evaluate.rules import Above, Control, Decision, Within, joint, not_run
from clipbook.evaluate.stats import Interval, mean_ci
from clipbook.learners.sweeps import Sweep
from clipbook.learners.towers import train_classifier_measured, train_clip_measured
from clipbook.models.towers import classifier_from, create_clip, create_simclr, create_supervised
from clipbook.parallel import map_jobs
from clipbook.training.loop import TrainConfig
from clipbook.training.stacked import train_simclr

Method = Literal["clip", "supervised", "caption_labels", "simclr"]


# ---------------------------------------------------------------- the runs

class Setting(NamedTuple):
    """One trained model kind: the loss, the training distribution, and the style (if any) left
    out of the diverse distribution."""

    method: Method
    diverse_fraction: float
    size_fraction: float
    left_out: str = ""


def settings(diverse_fractions: Sequence[float], size_fractions: Sequence[float]) -> list[Setting]:
    """What the five factors need: supervised and CLIP on the narrow distribution (language at
    training time, on the same images); CLIP at every mixture of the distributions (distribution)
    and at every size of the diverse set (size); cross-entropy on labels read off the diverse
    captions, from scratch (the loss) and after SimCLR pre-training on every diverse image
    (language and loss together). Language at test time compares heads of the same CLIP models."""
    runs = [Setting("supervised", 0.0, 1.0)]
    runs += [Setting("clip", f, 1.0) for f in sorted({0.0, 1.0, *diverse_fractions})]
    runs += [Setting("clip", 1.0, s) for s in sorted(set(size_fractions) - {1.0})]
    return runs + [Setting("caption_labels", 1.0, 1.0), Setting("simclr", 1.0, 1.0)]


def left_out_settings(seed: int, covered: Sequence[str], per_seed: int) -> list[Setting]:
    """The leave-one-style-out CLIPs of one seed: ``per_seed`` of the ``covered`` styles, taken
    in turn from the seed on, so that consecutive seeds leave out every style equally often."""
    if not 0 <= per_seed <= len(covered):
        raise ValueError(f"per_seed must lie in [0, {len(covered)}], got {per_seed}")
    return [Setting("clip", 1.0, 1.0, covered[(seed * per_seed + j) % len(covered)]) for j in range(per_seed)]


def _row(setting: Setting, seed: int, head: str, step: int, accuracies, shifts) -> dict:
    return {"method": setting.method, "head": head, "diverse_fraction": setting.diverse_fraction,
            "size_fraction": setting.size_fraction, "left_out": setting.left_out, "seed": seed, "step": step,
            **accuracy_columns(accuracies, shifts)}


PROBED = Setting("clip", 1.0, 1.0)
"""The CLIP whose features also get a linear probe: the second reading of language at test time."""


def channels_last(images: torch.Tensor) -> torch.Tensor:
    """Images stored channels-last, which batches, pixels and convolutions keep: a CPU step of
    ``tiny-rn`` takes about 0.8 times as long."""
    return images.contiguous(memory_format=torch.channels_last)


def run_setting(world: DiversityWorld, setting: Setting, seed: int, config: TrainConfig, tests: dict[str, ShapesData],
                model_name: str = "tiny-rn", text_layers: int = 1, pretrain_steps: int = 300,
                baseline_log_every: int | None = None, device: torch.device | None = None) -> list[dict]:
    """Train one model and measure it: one row per (head, checkpoint) with ID, per-shift and mean
    OOD accuracy. Every head but the linear probe is measured at every logged step (the
    trajectories that matched-accuracy comparisons read); the probe (of :data:`PROBED` only) at
    the end. The baseline's models (supervised, narrow) log every ``baseline_log_every`` steps if
    given, so that the line reaches down to low accuracies. SimCLR pre-trains for
    ``pretrain_steps`` (same batch and learning rate) before its ``config.steps`` of fine-tuning."""
    device = device or default_device()
    data = training_set(world.without(setting.left_out) if setting.left_out else world, setting.diverse_fraction,
                        setting.size_fraction, seed)
    data = data._replace(images=channels_last(data.images))
    config = replace(config, seed=seed)
    if baseline_log_every and setting.method == "supervised" and setting.diverse_fraction == 0:
        config = replace(config, log_every=baseline_log_every)
    shifts, n_classes = world.shift_styles, len(world.class_names)
    if setting.method != "clip":
        images, labels = data.images, data.labels
        if setting.method in ("caption_labels", "simclr"):
            derived = torch.from_numpy(caption_labels(data.captions, world.class_names))
            images, labels = images[derived >= 0], derived[derived >= 0]
        if setting.method == "simclr":
            encoder = create_simclr(model_name, seed=seed)
            train_simclr([encoder], data.images, replace(config, steps=pretrain_steps, log_every=0), device=device)
            model = classifier_from(encoder, n_classes, seed=seed)
        else:
            model = create_supervised(model_name, n_classes, seed=seed)
        checkpoints = train_classifier_measured([model], images, labels, tests, config, device)
        return [_row(setting, seed, r["head"], int(r["step"]), r, shifts) for r in checkpoints.to_dict("records")]
    tokenizer = WordTokenizer(context_length=world.context_length)
    model = create_clip(model_name, seed=seed, text_cfg={"context_length": world.context_length, "layers": text_layers})
    prompts = tokenizer([p for ensemble in zero_shot_prompts(world.class_names) for p in ensemble])
    names = tokenizer(list(world.class_names))
    checkpoints = train_clip_measured([model], data.images, tokenizer(data.captions), prompts, n_classes, tests,
                                      config, device, other_prompts={"class names": names})
    rows = [_row(setting, seed, r["head"], int(r["step"]), r, shifts) for r in checkpoints.to_dict("records")]
    if setting != PROBED:
        return rows
    probe = linear_probe(image_features(model, data.images), data.labels)
    probed = {name: probe_accuracy(probe, image_features(model, d.images), d.labels) for name, d in tests.items()}
    return rows + [_row(setting, seed, "linear probe", config.steps, probed, shifts)]


JOB_COST = {"simclr": 3, "clip": 2, "caption_labels": 1, "supervised": 1}
"""How long each kind of job takes, in rank: SimCLR pre-trains and fine-tunes; CLIP has a text tower."""


def run_sweep(world: DiversityWorld, runs: Sequence[Setting], seeds: Sequence[int], config: TrainConfig, *,
              left_out_per_seed: int = 0, device: torch.device | None = None, **kwargs) -> Sweep:
    """Every setting at every seed, plus each seed's leave-one-style-out CLIPs
    (:func:`left_out_settings`); one model per job, the jobs side by side on a CPU's cores
    (:func:`~clipbook.parallel.map_jobs`; on a CPU that beats stacking these towers)."""
    started = time.perf_counter()
    device = device or default_device()
    tests = {name: d._replace(images=channels_last(d.images)) for name, d in test_sets(world).items()}
    jobs = [(seed, setting) for seed in seeds
            for setting in [*runs, *left_out_settings(seed, world.covered_shifts, left_out_per_seed)]]
    jobs.sort(key=lambda job: JOB_COST[job[1].method], reverse=True)  # longest first: no long job left for last
    per_job = map_jobs(lambda job: run_setting(world, job[1], job[0], config, tests, device=device, **kwargs), jobs,
                       device)
    return Sweep(pd.DataFrame([row for rows in per_job for row in rows]), time.perf_counter() - started)


# ---------------------------------------------------------------- effective robustness

MODEL_KEYS = ["method", "head", "diverse_fraction", "size_fraction", "left_out"]


def is_baseline(results: pd.DataFrame) -> pd.Series:
    """The baseline's models: supervised classifiers on the narrow distribution, every checkpoint."""
    return (results.method == "supervised") & (results.diverse_fraction == 0)


def final(results: pd.DataFrame) -> pd.DataFrame:
    """Each model's last checkpoint."""
    last = results.groupby([*MODEL_KEYS, "seed"]).step.transform("max")
    return results[results.step == last]


def with_effective_robustness(results: pd.DataFrame, shifts: Sequence[str] = ()) -> tuple[pd.DataFrame, BaselineFit]:
    """Add ``er`` (OOD accuracy minus the baseline line at the model's ID accuracy) to every row,
    and ``er_<shift>`` for each of ``shifts`` (against that shift's own line)."""
    base = results[is_baseline(results)]
    line = fit_baseline(base.id_accuracy, base.ood_accuracy)
    columns = {"er": line.effective_robustness(results.id_accuracy, results.ood_accuracy)}
    for shift in shifts:
        own = fit_baseline(base.id_accuracy, base[f"acc_{shift}"])
        columns[f"er_{shift}"] = own.effective_robustness(results.id_accuracy, results[f"acc_{shift}"])
    return results.assign(**columns), line


class Model(NamedTuple):
    """A model kind as the results name it; ``size`` is ``"full"`` or ``"small"`` (the smallest
    size fraction run)."""

    method: Method
    head: str
    diverse_fraction: float
    size: str = "full"
    left_out: str = ""


CLIP_DIVERSE, CLIP_NARROW = Model("clip", "zero-shot", 1.0), Model("clip", "zero-shot", 0.0)
SUPERVISED = Model("supervised", "classifier", 0.0)
CAPTION_LABELS, SIMCLR = Model("caption_labels", "classifier", 1.0), Model("simclr", "classifier", 1.0)
FACTORS = {
    "training set size": (CLIP_DIVERSE, Model("clip", "zero-shot", 1.0, "small")),
    "training distribution": (CLIP_DIVERSE, CLIP_NARROW),
    "language at training time": (CLIP_NARROW, SUPERVISED),
    "language at test time": (CLIP_DIVERSE, Model("clip", "class names", 1.0)),
    "contrastive loss": (CLIP_DIVERSE, CAPTION_LABELS),
    "language and loss (SimCLR)": (CLIP_DIVERSE, SIMCLR),
}
"""Factor -> (with it, without it). Each factor's effect is the change in effective robustness,
paired by seed, when only that factor changes. Language at test time: the zero-shot head from
prompt ensembles against the head from bare class names. Language and loss together: CLIP
against SimCLR fine-tuned on caption labels (Fang et al.'s YFCC-15M experiment)."""
SECOND_READINGS = {"language at test time (linear probe)": (CLIP_DIVERSE, Model("clip", "linear probe", 1.0))}
"""Comparisons measured at the last checkpoint only (a linear probe has no trajectory)."""


def _models(results: pd.DataFrame, model: Model) -> pd.DataFrame:
    size = 1.0 if model.size == "full" else results.size_fraction.min()
    return results[(results.method == model.method) & (results["head"] == model.head)
                   & (results.diverse_fraction == model.diverse_fraction) & (results.size_fraction == size)
                   & (results.left_out == model.left_out)]


Reading = Literal["matched", "final"]
_READINGS = {"matched": matched_difference, "final": final_difference}


def factor_effects(results: pd.DataFrame, reading: Reading = "matched", factors: dict | None = None) -> pd.DataFrame:
    """ER(with) - ER(without) per factor and seed (``results`` must have ``er``), read at matched
    ID accuracy or at the last checkpoints. ``factors`` defaults to :data:`FACTORS`; the size
    factor is left out when only one size was run."""
    factors = FACTORS if factors is None else factors
    difference = _READINGS[reading]
    rows = []
    for factor, (with_, without) in factors.items():
        if results.size_fraction.min() == 1.0 and "small" in (with_.size, without.size):
            continue
        a, b = _models(results, with_), _models(results, without)
        for seed in sorted(set(a.seed) & set(b.seed)):
            rows.append({"factor": factor, "seed": seed,
                         **difference(a[a.seed == seed], b[b.seed == seed])})
    return pd.DataFrame(rows, columns=["factor", "seed", "delta_er", "accuracy"])


def final_id_accuracy(final_rows: pd.DataFrame, model: Model) -> float:
    """One model's mean final ID accuracy over seeds (``final_rows``: :func:`final`)."""
    return float(_models(final_rows, model).id_accuracy.mean())


def smallest_clip_accuracy(final_rows: pd.DataFrame) -> float:
    """The zero-shot CLIPs' mean final ID accuracy on the smaller diverse set (the size test's floor)."""
    return final_id_accuracy(final_rows, FACTORS["training set size"][1])


SIZE_FLOOR = 0.3
"""The smaller CLIP's mean final ID accuracy (three times chance) below which the size test
decides nothing."""


def size_control(smallest_clip: float) -> Control:
    """The size factor's instrument: a CLIP on the smaller set that learns (:data:`SIZE_FLOOR`);
    one near chance tests nothing."""
    return Control(f"the smaller CLIP learns (mean final ID accuracy at least {SIZE_FLOOR:g}, three times chance)",
                   bool(smallest_clip >= SIZE_FLOOR), f"{smallest_clip:.2f}")


READING_NAMES = {"matched": "matched accuracy", "final": "last checkpoint"}


def both_readings(results: pd.DataFrame) -> pd.DataFrame:
    """:func:`factor_effects` at matched accuracy and at the last checkpoints, in long format
    with a ``reading`` column (for a figure that shows both)."""
    return pd.concat([factor_effects(results, r).assign(reading=name) for r, name in READING_NAMES.items()],
                     ignore_index=True)


ACCURACY_PAIRS = {"CLIP vs. supervised, narrow images": (CLIP_NARROW, SUPERVISED),
                  "CLIP vs. caption labels, diverse images": (CLIP_DIVERSE, CAPTION_LABELS),
                  "CLIP vs. SimCLR + caption labels, diverse images": (CLIP_DIVERSE, SIMCLR)}


def accuracy_gaps(final_rows: pd.DataFrame) -> pd.DataFrame:
    """Mean final ID accuracy of CLIP and of the classifier it is compared with on the same
    images, and the gap (``final_rows``: :func:`final`)."""
    rows = {}
    for pair, (clip, other) in ACCURACY_PAIRS.items():
        a, b = _models(final_rows, clip).id_accuracy.mean(), _models(final_rows, other).id_accuracy.mean()
        rows[pair] = {"CLIP": round(a, 3), "classifier": round(b, 3), "gap": round(b - a, 3)}
    return pd.DataFrame(rows).T


def factor_intervals(effects: pd.DataFrame, confidence: float = 0.95, by: str = "factor") -> dict[str, Interval]:
    """Mean change in ER per factor (or per value of column ``by``) with its Student-t interval
    over seeds (seeds where the matched reading is NaN are dropped)."""
    return {f: mean_ci(g.delta_er, confidence) for f, g in effects.groupby(by, sort=False)}


def factor_table(effects: pd.DataFrame, by: str = "factor") -> pd.DataFrame:
    """:func:`factor_intervals` as a table, with the 90% interval that the equivalence tests read."""
    wide, tost = factor_intervals(effects, by=by), factor_intervals(effects, 0.90, by=by)
    return pd.DataFrame({f: {"delta ER": round(i.mean, 3), "95% CI": f"[{i.lo:.3f}, {i.hi:.3f}]",
                             "90% CI": f"[{tost[f].lo:.3f}, {tost[f].hi:.3f}]", "seeds": i.n}
                         for f, i in wide.items()}).T


# ---------------------------------------------------------------- diversity or coverage

COVERAGE = {"covered - left out": CLIP_DIVERSE, "left out - narrow": CLIP_NARROW}
"""Comparison -> the model the left-out CLIP is compared with, on the style it left out."""


def coverage_effects(results: pd.DataFrame) -> pd.DataFrame:
    """For every leave-one-style-out CLIP: its ER on the style it never saw (``er_<style>``),
    against the full diverse CLIP's on that style (``covered - left out``) and the narrow CLIP's
    (``left out - narrow``), each at matched ID accuracy and paired by seed; one row per
    (seed, style, comparison)."""
    rows = []
    for (seed, style), left in results[results.left_out != ""].groupby(["seed", "left_out"]):
        left = left[left["head"] == "zero-shot"]
        for comparison, model in COVERAGE.items():
            other = _models(results, model)
            other = other[other.seed == seed]
            if other.empty:
                continue
            a, b = (other, left) if model == CLIP_DIVERSE else (left, other)
            rows.append({"seed": seed, "style": style, "comparison": comparison,
                         **matched_difference(a, b, f"er_{style}")})
    return pd.DataFrame(rows, columns=["seed", "style", "comparison", "delta_er", "accuracy"])


def style_effective_robustness(results: pd.DataFrame, shifts: Sequence[str], covered: Sequence[str]) -> pd.DataFrame:
    """ER of the full-size CLIP zero-shot heads on each shift at their last checkpoints, labelled
    by whether the model's training set contained that style (the diverse set contains the
    ``covered`` styles, less the one a leave-one-style-out model left out): one row per (model,
    seed, shift)."""
    last = final(results[(results.method == "clip") & (results["head"] == "zero-shot")
                         & (results.size_fraction == 1.0) & results.diverse_fraction.isin([0.0, 1.0])])
    rows = []
    for shift in shifts:
        contained = (last.diverse_fraction == 1.0) & (last.left_out != shift) & (shift in covered)
        training = np.select([last.diverse_fraction == 0.0, contained], ["narrow", "diverse, with this style"],
                             "diverse, without this style")
        rows.append(pd.DataFrame({"seed": last.seed, "shift": shift, "training set": training,
                                  "er": last[f"er_{shift}"]}))
    return pd.concat(rows, ignore_index=True)


# ---------------------------------------------------------------- names

def model_names(results: pd.DataFrame) -> pd.Series:
    """A reader's name for each row's model: method, head, training distribution, size."""
    method = results.method.map({"clip": "CLIP", "supervised": "supervised", "caption_labels": "caption labels",
                                 "simclr": "SimCLR + caption labels"})
    head = np.where(results.method == "clip", " " + results["head"], "")
    data = np.select([results.diverse_fraction == 0, results.diverse_fraction == 1], ["narrow", "diverse"],
                     (results.diverse_fraction * 100).round().astype(int).astype(str) + "% diverse")
    left_out = np.where(results.left_out != "", " without " + results.left_out, "")
    size = np.where(results.size_fraction < 1, " (" + (results.size_fraction * 100).round().astype(int).astype(str)
                    + "% size)", "")
    return method + head + ", " + data + left_out + size


# ---------------------------------------------------------------- claims

LITTLE = {"b": "training set size", "c": "language at training time", "d": "language at test time",
          "e": "contrastive loss", "f": "language and loss (SimCLR)"}
"""The contributes-little claims and their factors."""
COVERAGE_CLAIMS = {"g": "covered - left out", "h": "left out - narrow"}
MAIN_FLOOR = 0.03
"""Claim a's threshold (and g's, h's): three points of OOD accuracy above the baseline line."""


def claim_rules(margin: float) -> dict:
    """The rules, as stated before the run: a main cause (claim a) and a coverage effect (g, h)
    clear :data:`MAIN_FLOOR` with their smallest effect of interest at the margin; contributing
    little (b-f) is equivalence within +/- ``margin``."""
    smallest = max(margin, MAIN_FLOOR)
    because = "the margin of claims b-f: a cause must exceed what contributes little"
    return {"main": Above(MAIN_FLOOR, smallest, because, power_at=None if smallest > MAIN_FLOOR else 2 * MAIN_FLOOR,
                          what="95% CI of the matched change in ER"),
            "little": Within(margin, "five points of OOD accuracy, stated before the run",
                             what="90% CI of the matched change in ER")}


def decide(effects: pd.DataFrame, coverage: pd.DataFrame, margin: float, smallest_clip: float,
           er_control: Control) -> dict[str, Decision]:
    """Every claim's decision from the matched effects (:func:`factor_effects`,
    :func:`coverage_effects`); each reads effective robustness and stands only where its control
    saw a planted effect, and the size test needs a smaller CLIP that learns (:func:`size_control`).
    A factor or comparison this run did not include is undecided (not run)."""
    r = claim_rules(margin)
    wide, tost = factor_intervals(effects), factor_intervals(effects, 0.90)
    cover = factor_intervals(coverage, by="comparison") if len(coverage) else {}

    def little(factor: str) -> Decision:
        if factor not in tost:
            return not_run(f"no {factor} arm in this run")
        control = joint(er_control, size_control(smallest_clip)) if factor == LITTLE["b"] else er_control
        return r["little"].decide(tost[factor], control=control)

    main = "training distribution"
    out = {"a": r["main"].decide(wide[main], control=er_control) if main in wide else not_run("no narrow CLIP")}
    out |= {k: little(f) for k, f in LITTLE.items()}
    out |= {k: r["main"].decide(cover[c], control=er_control) if c in cover else not_run("no left-out styles")
            for k, c in COVERAGE_CLAIMS.items()}
    return out
