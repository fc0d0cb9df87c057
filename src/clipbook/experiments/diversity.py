"""Chapter 4: is the training distribution the cause of CLIP's effective robustness? (Fang et al. 2022)

In :class:`~clipbook.data.diversity.DiversityWorld` every model is an open_clip tower trained
from scratch, and the five candidate causes are switched one at a time, with everything else
(classes, scenes, steps, architecture, seed) held fixed.
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
from clipbook.evaluate.robustness import BaselineFit, fit_baseline
from clipbook.evaluate.stats import Interval, mean_ci
from clipbook.learners.sweeps import Sweep
from clipbook.learners.towers import train_classifier_measured, train_clip_measured
from clipbook.models.towers import create_clip, create_supervised
from clipbook.parallel import map_jobs
from clipbook.training.loop import TrainConfig

Method = Literal["clip", "supervised", "caption_labels"]


# ---------------------------------------------------------------- the runs

class Setting(NamedTuple):
    """One trained model kind: the loss and the training distribution."""

    method: Method
    diverse_fraction: float
    size_fraction: float


def settings(diverse_fractions: Sequence[float], size_fractions: Sequence[float]) -> list[Setting]:
    """What the five factors need: supervised and CLIP on the narrow distribution (language at
    training time); CLIP at every mixture of the distributions (distribution) and at every size
    of the diverse set (size); cross-entropy on caption labels from the diverse set (the loss).
    Language at test time compares two heads of the same CLIP models."""
    runs = [Setting("supervised", 0.0, 1.0)]
    runs += [Setting("clip", f, 1.0) for f in sorted({0.0, 1.0, *diverse_fractions})]
    runs += [Setting("clip", 1.0, s) for s in sorted(set(size_fractions) - {1.0})]
    runs.append(Setting("caption_labels", 1.0, 1.0))
    return runs


def _row(setting: Setting, seed: int, head: str, step: int, accuracies: dict[str, float], shifts) -> dict:
    return {"method": setting.method, "head": head, "diverse_fraction": setting.diverse_fraction,
            "size_fraction": setting.size_fraction, "seed": seed, "step": step,
            **accuracy_columns(accuracies, shifts)}


def run_setting(world: DiversityWorld, setting: Setting, seed: int, config: TrainConfig, tests: dict[str, ShapesData],
                model_name: str = "tiny-rn", text_layers: int = 1, device: torch.device | None = None) -> list[dict]:
    """Train one model and measure it: one row per (head, checkpoint) with ID, per-shift and mean
    OOD accuracy. Classifiers and CLIP's zero-shot head are measured at every logged step (the
    supervised checkpoints are the baseline's models); the linear probe at the end."""
    device = device or default_device()
    data = training_set(world, setting.diverse_fraction, setting.size_fraction, seed)
    config = replace(config, seed=seed)
    shifts = world.shift_styles
    if setting.method != "clip":
        images, labels = data.images, data.labels
        if setting.method == "caption_labels":
            derived = torch.from_numpy(caption_labels(data.captions, world.class_names))
            images, labels = images[derived >= 0], derived[derived >= 0]
        model = create_supervised(model_name, len(world.class_names), seed=seed)
        checkpoints = train_classifier_measured([model], images, labels, tests, config, device)
        return [_row(setting, seed, "classifier", int(r["step"]), r, shifts) for r in checkpoints.to_dict("records")]
    tokenizer = WordTokenizer(context_length=world.context_length)
    model = create_clip(model_name, seed=seed, text_cfg={"context_length": world.context_length, "layers": text_layers})
    prompts = tokenizer([p for ensemble in zero_shot_prompts(world.class_names) for p in ensemble])
    checkpoints = train_clip_measured([model], data.images, tokenizer(data.captions), prompts, len(world.class_names),
                                      tests, config, device)
    rows = [_row(setting, seed, "zero-shot", int(r["step"]), r, shifts) for r in checkpoints.to_dict("records")]
    probe = linear_probe(image_features(model, data.images), data.labels)
    probed = {name: probe_accuracy(probe, image_features(model, d.images), d.labels) for name, d in tests.items()}
    return rows + [_row(setting, seed, "linear probe", config.steps, probed, shifts)]


def run_sweep(world: DiversityWorld, runs: Sequence[Setting], seeds: Sequence[int], config: TrainConfig, *,
              device: torch.device | None = None, **kwargs) -> Sweep:
    """Every setting at every seed, one model per job, the jobs side by side on a CPU's cores
    (:func:`~clipbook.parallel.map_jobs`; on a CPU that beats stacking these towers)."""
    started = time.perf_counter()
    device = device or default_device()
    tests = test_sets(world)
    jobs = [(seed, setting) for seed in seeds for setting in runs]
    per_job = map_jobs(lambda job: run_setting(world, job[1], job[0], config, tests, device=device, **kwargs), jobs,
                       device)
    return Sweep(pd.DataFrame([row for rows in per_job for row in rows]), time.perf_counter() - started)


# ---------------------------------------------------------------- effective robustness and the factors

def is_baseline(results: pd.DataFrame) -> pd.Series:
    """The baseline's models: supervised classifiers on the narrow distribution, every checkpoint."""
    return (results.method == "supervised") & (results.diverse_fraction == 0)


def final(results: pd.DataFrame) -> pd.DataFrame:
    """Each model's last checkpoint."""
    last = results.groupby(["method", "head", "diverse_fraction", "size_fraction", "seed"]).step.transform("max")
    return results[results.step == last]


def with_effective_robustness(results: pd.DataFrame) -> tuple[pd.DataFrame, BaselineFit]:
    """Add ``er`` (OOD accuracy minus the baseline line at the model's ID accuracy) to every row."""
    base = results[is_baseline(results)]
    line = fit_baseline(base.id_accuracy, base.ood_accuracy)
    return results.assign(er=line.effective_robustness(results.id_accuracy, results.ood_accuracy)), line


FACTORS = {
    "training set size": (("clip", "zero-shot", 1.0, "full"), ("clip", "zero-shot", 1.0, "small")),
    "training distribution": (("clip", "zero-shot", 1.0, "full"), ("clip", "zero-shot", 0.0, "full")),
    "language at training time": (("clip", "zero-shot", 0.0, "full"), ("supervised", "classifier", 0.0, "full")),
    "language at test time": (("clip", "zero-shot", 1.0, "full"), ("clip", "linear probe", 1.0, "full")),
    "contrastive loss": (("clip", "zero-shot", 1.0, "full"), ("caption_labels", "classifier", 1.0, "full")),
}
"""Factor -> (with it, without it): (method, head, diverse fraction, size). Each factor's effect
is the change in effective robustness, paired by seed, when only that factor changes."""


def model_names(results: pd.DataFrame) -> pd.Series:
    """A reader's name for each row's model: method, head, training distribution, size."""
    method = results.method.map({"clip": "CLIP", "supervised": "supervised", "caption_labels": "caption labels"})
    head = np.where(results.method == "clip", " " + results["head"], "")
    data = np.select([results.diverse_fraction == 0, results.diverse_fraction == 1], ["narrow", "diverse"],
                     (results.diverse_fraction * 100).round().astype(int).astype(str) + "% diverse")
    size = np.where(results.size_fraction < 1, " (" + (results.size_fraction * 100).round().astype(int).astype(str)
                    + "% size)", "")
    return method + head + ", " + data + size


def shift_effective_robustness(results: pd.DataFrame, shifts: Sequence[str]) -> pd.DataFrame:
    """ER on each shift separately (its own baseline line), final checkpoints, long format."""
    base, last = results[is_baseline(results)], final(results)
    rows = []
    for shift in shifts:
        line = fit_baseline(base.id_accuracy, base[f"acc_{shift}"])
        er = line.effective_robustness(last.id_accuracy, last[f"acc_{shift}"])
        rows.append(last.assign(shift=shift, er=er, model=model_names(last)))
    return pd.concat(rows, ignore_index=True)


def factor_effects(results: pd.DataFrame) -> pd.DataFrame:
    """ER(with) - ER(without) per factor and seed, on the models' final checkpoints (``results``
    must have ``er``). ``small`` is the smallest size fraction run."""
    last = final(results)
    small = last.size_fraction.min()

    def er(method, head, fraction, size):
        rows = last[(last.method == method) & (last["head"] == head) & (last.diverse_fraction == fraction)
                    & (last.size_fraction == (1.0 if size == "full" else small))]
        return rows.set_index("seed").er

    rows = []
    for factor, (with_, without) in FACTORS.items():
        if small == 1.0 and factor == "training set size":
            continue
        delta = er(*with_) - er(*without)
        rows += [{"factor": factor, "seed": s, "delta_er": d} for s, d in delta.dropna().items()]
    return pd.DataFrame(rows)


def factor_intervals(effects: pd.DataFrame) -> dict[str, Interval]:
    """Mean change in ER per factor with its 95% Student-t interval over seeds."""
    return {f: mean_ci(g.delta_er) for f, g in effects.groupby("factor", sort=False)}


def factor_table(effects: pd.DataFrame) -> pd.DataFrame:
    """:func:`factor_intervals` as a table."""
    rows = factor_intervals(effects)
    return pd.DataFrame({f: {"delta ER": round(i.mean, 3), "95% CI": f"[{i.lo:.3f}, {i.hi:.3f}]", "seeds": i.n}
                         for f, i in rows.items()}).T
