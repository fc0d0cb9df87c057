"""Chapter 2 in images: Xue et al.'s caption experiment, in the shapes world.

Xue et al. train CLIP on image-caption data with full captions and with label-only text, at
several training lengths, and compare the lines their models lie on in ID-vs-OOD accuracy. Here
tiny open_clip towers train on the narrow distribution of :class:`~clipbook.data.diversity.DiversityWorld`
(photos on plain backgrounds) with captions that describe each image's details, or with text that
only names its class; every checkpoint is one point, tested on the narrow test set (ID) and on
the drawing styles the training set never shows (OOD). In :class:`~clipbook.data.diversity.SharedDetailWorld`
the same comparison reads the paper's mechanism: colour is each class's spurious detail, shared
with the other classes and named in full captions, and the OOD test decorrelates it from the class.

On real data (:func:`run_real`, the chapter's ``paper`` profile) the same comparison runs on
MSCOCO or Conceptual Captions: ``open_clip_train`` trains CLIP on the pairs' captions and on
label-only text, each epoch's checkpoint is tested zero-shot on ImageNet (ID) and its shifts
(OOD), and :func:`claim_statistics` reads the rows the same way.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Mapping, NamedTuple, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from clipbook import plots
from clipbook.data.captions import CaptionSpec, WordTokenizer, captions, zero_shot_prompts
from clipbook.data import real
from clipbook.data.diversity import DiversityWorld, SharedDetailWorld, accuracy_columns
from clipbook.data.imagenet import imagenet_classnames
from clipbook.data.render import make_shapes
from clipbook.device import default_device
from clipbook.evaluate.robustness import line_gap, overlap_midpoint
from clipbook.evaluate.stats import UNDECIDED, Interval
from clipbook.learners import imagenet_runs
from clipbook.learners.imagenet_runs import SHIFTS, TEST_LAYOUT, RealConfig
from clipbook.learners.sweeps import Sweep
from clipbook.learners.towers import train_clip_measured
from clipbook.models.towers import create_clip
from clipbook.parallel import map_jobs
from clipbook.training.loop import TrainConfig

FULL, LABEL_ONLY = "full captions", "label only"
PAIRS_FILE = "pairs.csv"
"""The image-caption table's default place under the real-data root."""
DETAILS = ("size", "colour", "texture", "background", "position")
"""What a full caption may describe besides the class: every attribute the narrow images vary in."""


def caption_specs(p_detail: float, details: tuple[str, ...] = DETAILS) -> dict[str, CaptionSpec]:
    """The two kinds of text: a template around the class with each detail mentioned with
    probability ``p_detail`` ("a photo of a small red striped circle on a light background."),
    or the same templates around the class alone ("a photo of a circle.")."""
    return {FULL: CaptionSpec(kind="template", attributes=details, p_mention=p_detail),
            LABEL_ONLY: CaptionSpec(kind="template")}


def run_seed(world: DiversityWorld | SharedDetailWorld, seed: int, config: TrainConfig, tests: dict, *,
             p_detail: float = 1.0, details: tuple[str, ...] = DETAILS,
             model_name: str = "tiny-rn", text_layers: int = 1, device: torch.device | None = None) -> list[dict]:
    """Both kinds of text at one seed, on the same images: one row per (variant, checkpoint) with
    ID accuracy, the accuracy on each shift style and their mean (OOD)."""
    device = device or default_device()
    tokenizer = WordTokenizer(context_length=world.context_length)
    prompts = tokenizer([p for ensemble in zero_shot_prompts(world.class_names) for p in ensemble])
    data = make_shapes(world.narrow(seed, world.n_train))
    rows = []
    for variant, spec in caption_specs(p_detail, details).items():
        text = captions(data.latents, replace(spec, seed=seed))
        model = create_clip(model_name, seed=seed, text_cfg={"context_length": world.context_length,
                                                             "layers": text_layers})
        checkpoints = train_clip_measured([model], data.images, tokenizer(text), prompts, len(world.class_names),
                                          tests, replace(config, seed=seed), device, desc=variant)
        rows += [{"variant": variant, "seed": seed, "step": int(r["step"]),
                  **accuracy_columns(r, world.shift_styles)} for r in checkpoints.to_dict("records")]
    return rows


class ImageArm(NamedTuple):
    """One image experiment: its world, and the details its full captions may name."""

    world: DiversityWorld | SharedDetailWorld
    details: tuple[str, ...] = DETAILS


def run_sweeps(arms: Mapping[str, ImageArm], seeds: Sequence[int], config: TrainConfig, *,
               device: torch.device | None = None, **kwargs) -> dict[str, Sweep]:
    """:func:`run_seed` for every arm at every seed, all in one pool on a CPU's cores
    (:func:`~clipbook.parallel.map_jobs`), so no core waits for another experiment; each arm's
    sweep carries the pool's time."""
    device = device or default_device()
    started = time.perf_counter()
    tests = {name: arm.world.test_sets() for name, arm in arms.items()}
    jobs = [(name, seed) for name in arms for seed in seeds]
    per_job = map_jobs(lambda job: run_seed(arms[job[0]].world, job[1], config, tests[job[0]],
                                            details=arms[job[0]].details, device=device, **kwargs),
                       jobs, device, desc="seeds", unit="seed")
    seconds = time.perf_counter() - started
    return {name: Sweep(pd.DataFrame([row for (arm, _), rows in zip(jobs, per_job) if arm == name for row in rows]),
                        seconds) for name in arms}


def _words(text: str) -> tuple[str, ...]:
    return tuple(re.findall(r"\w+", text.lower()))


def class_scanner(classnames: Sequence[str]) -> Callable[[str], set[str]]:
    """``scan(caption)``: the class names a caption mentions, whole words, case and punctuation
    ignored, the longest name read first at each place ("a tiger shark" names the tiger shark,
    not the tiger)."""
    names = {_words(name): name for name in classnames}
    longest = max(map(len, names))

    def scan(caption: str) -> set[str]:
        words, found, i = _words(caption), set(), 0
        while i < len(words):
            n = next((n for n in range(min(longest, len(words) - i), 0, -1) if words[i:i + n] in names), 0)
            if n:
                found.add(names[words[i:i + n]])
            i += max(n, 1)
        return found

    return scan


def _slug(variant: str) -> str:
    return variant.replace(" ", "-")


def label_only_pairs(pairs_csv: str | Path, out: str | Path,
                     classnames: Sequence[str] | None = None) -> dict[str, Path]:
    """The two kinds of text on the same real images, as open_clip CSVs (absolute paths) under
    ``out``: the pairs' own captions, and "a photo of a {class}." The class is the pair's
    ``label`` column when the table has one; otherwise the one class name its caption mentions
    (Fang et al.'s scan for YFCC-15M-Cls), and pairs that name none or several are left out of
    both."""
    classnames = list(classnames or imagenet_classnames())
    pairs = real.csv_dataset(pairs_csv)
    if pairs.labels is not None:
        labels = [classnames[k] for k in pairs.labels]
    else:
        scan = class_scanner(classnames)
        labels = [next(iter(found)) if len(found) == 1 else None for found in map(scan, pairs.captions)]
    keep = [i for i, label in enumerate(labels) if label is not None]
    if not keep:
        raise ValueError(f"{pairs_csv}: no caption names exactly one class, so there is no label-only text; "
                         "add a label column (class indices) to the table")
    files = [str(Path(pairs.paths[i]).resolve()) for i in keep]
    texts = {FULL: [pairs.captions[i] for i in keep], LABEL_ONLY: [f"a photo of a {labels[i]}." for i in keep]}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for variant, text in texts.items():
        paths[variant] = out / f"{_slug(variant)}.csv"
        pd.DataFrame({"filepath": files, "caption": text}).to_csv(paths[variant], index=False)
    return paths


def locate_real(root: str | Path, pairs_csv: str | Path | None = None, shifts: Sequence[str] = SHIFTS) -> dict[str, Path]:
    """Before any compute: the ImageNet test sets under ``root`` and the image-caption table
    (``pairs_csv``, by default ``root``/:data:`PAIRS_FILE`), or one error that names everything
    missing and where to get it; then the table's columns and first images are checked."""
    imagenet_runs.check_shifts(shifts)
    layout = {"csv": str(pairs_csv or PAIRS_FILE), **TEST_LAYOUT}
    paths = imagenet_runs.locate(root, layout, ["csv", "imagenet", *shifts],
                                 parameters="`real_data` and `real_pairs` parameters")
    real.check_pairs_csv(paths["csv"])
    return paths


def layout_table(root: str | Path = "DATA") -> pd.DataFrame:
    """The files the real-data experiment reads, as a table a reader can follow."""
    return imagenet_runs.layout_table({"csv": PAIRS_FILE, **TEST_LAYOUT}, root)


def run_real(root: str | Path, pairs_csv: str | Path | None, out: str | Path, seeds: Sequence[int],
             config: RealConfig = RealConfig(), *, shifts: Sequence[str] = SHIFTS,
             templates: str | Sequence[str] = "openai", device: str | None = None) -> pd.DataFrame:
    """Both kinds of text on the real pairs at every seed, resumable: one row per (variant, seed,
    epoch) with ImageNet accuracy (ID), each shift's and their mean (OOD)."""
    paths, templates = locate_real(root, pairs_csv, shifts), imagenet_runs.prompt_templates(templates)
    out = Path(out).expanduser().resolve()
    tables = label_only_pairs(paths["csv"], out / "pairs")
    runs = {(variant, seed): f"{_slug(variant)}-seed{seed}" for variant in tables for seed in seeds}
    checkpoints = {("clip", name): imagenet_runs.train_clip(tables[variant], out, name, config._replace(seed=seed),
                                                            device)
                   for (variant, seed), name in runs.items()}
    sets = imagenet_runs.evaluation_sets(paths, config.model, shifts)
    accuracies = imagenet_runs.evaluate_checkpoints(
        checkpoints, sets, config.model, out, templates=templates, batch_size=config.batch_size, workers=config.workers,
        device=torch.device(device) if device else None)
    points = imagenet_runs.id_ood(accuracies, shifts)
    keys = {name: key for key, name in runs.items()}
    return points.assign(variant=[keys[r][0] for r in points.run], seed=[keys[r][1] for r in points.run],
                         step=points.epoch)


def common_id_accuracy(results: pd.DataFrame) -> float:
    """Where the two lines are compared: the middle of the ID accuracies both variants reach (NaN
    when they do not overlap)."""
    return overlap_midpoint(*(results[results.variant == v].id_accuracy for v in (FULL, LABEL_ONLY)))


def compared_lines(results: pd.DataFrame) -> plt.Figure:
    """Every checkpoint's ID against OOD accuracy with a line per kind of text in logit space
    (:func:`~clipbook.plots.logit_lines`), and where the lines are compared (dotted)."""
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    plots.logit_lines(results, "variant", ax=ax)
    ax.axvline(common_id_accuracy(results), color="0.4", ls=":", lw=1)
    return fig


def claim_statistics(results: pd.DataFrame, n_boot: int = 1000) -> dict[str, Interval]:
    """``caption_line_gap``: OOD accuracy on the full captions' line minus on the label-only line,
    each fitted in logit space to its checkpoints, at :func:`common_id_accuracy`; the interval
    resamples seeds (a run's checkpoints are not independent), and its ``n`` is the fewer variant's
    seeds. Undecided when the variants' ID accuracies do not overlap, when a variant's do not vary
    (no line), or when a variant has fewer than two seeds to resample."""
    at = common_id_accuracy(results)
    full, label = (results[results.variant == v] for v in (FULL, LABEL_ONLY))
    if np.isnan(at) or min(v.seed.nunique() for v in (full, label)) < 2 or min(
            v.id_accuracy.nunique() for v in (full, label)) < 2:
        return {"caption_line_gap": UNDECIDED}
    seeds = min(v.seed.nunique() for v in (full, label))  # what the interval rests on (not its resamples)
    return {"caption_line_gap": line_gap(full, label, at, n_boot=n_boot)._replace(n=seeds)}
