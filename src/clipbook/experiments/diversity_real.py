"""Chapter 4 on real data: CLIP vs. supervised on ImageNet-Captions (Fang et al., Sec. 4).

The experiment the synthetic chapter miniaturizes. The same ResNet trains twice on the same
ImageNet-Captions images: as CLIP on their Flickr captions (``open_clip_train``, one or more
GPUs) and as a supervised classifier on their labels (:func:`clipbook.training.image_files.train_classifier`).
Optionally a third run trains CLIP on a diverse image-caption set of the reader's choice (a
YFCC, CC or LAION subset as an open_clip CSV), the distribution factor. Every epoch's checkpoint
is tested on ImageNet val and on the shifted sets; the supervised checkpoints give the baseline
line, and each CLIP checkpoint's effective robustness is measured against it.

All data sit under one root in the layout of :data:`LAYOUT` (each entry may be a symbolic link);
:func:`locate` checks it before any compute and names everything that is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd
import torch

from clipbook.data import real
from clipbook.device import default_device
from clipbook.evaluate.robustness import BaselineFit, effective_robustness_ci, fit_baseline
from clipbook.evaluate.rules import Decision, Within
from clipbook.evaluate.stats import Interval
from clipbook.learners import imagenet_runs
from clipbook.learners.imagenet_runs import SHIFTS, TEST_LAYOUT, RealConfig, train_clip
from clipbook.models.towers import create_supervised
from clipbook.training.image_files import train_classifier

LAYOUT = {"imagenet_captions": "imagenet_captions.json", "imagenet_train": "imagenet/train", **TEST_LAYOUT}
"""Data set key (as in :data:`clipbook.data.sources.SOURCES`) -> its path under the data root."""


def locate(root: str | Path, shifts: Sequence[str] = SHIFTS, diverse_pairs: str | Path | None = None) -> dict[str, Path]:
    """The paths of the training data and the test sets under ``root``, or one error naming
    every missing piece, where it goes and where to get it; then, still before any compute, the
    inputs are opened and checked (ImageNet-Captions parses and its images are there; the
    optional ``diverse_pairs`` CSV has open_clip's columns and its first images exist)."""
    imagenet_runs.check_shifts(shifts)
    paths = imagenet_runs.locate(root, LAYOUT, ["imagenet_captions", "imagenet_train", "imagenet", *shifts],
                                 parameters="`real_data` parameter")
    real.imagenet_captions(paths["imagenet_captions"], paths["imagenet_train"])
    if diverse_pairs is not None:
        paths["diverse_pairs"] = real.check_pairs_csv(diverse_pairs)
    return paths


def layout_table(root: str | Path = "DATA") -> pd.DataFrame:
    """The folder layout the experiment reads, as a table a reader can follow."""
    return imagenet_runs.layout_table(LAYOUT, root)


def export_captions_csv(captions_json: str | Path, train_root: str | Path, path: str | Path,
                        fields: Sequence[str] = ("title", "description", "tags")) -> Path:
    """ImageNet-Captions as open_clip's CSV (absolute ``filepath``, ``caption``, ``label``),
    images that have no text in the chosen fields left out; the images are not copied."""
    pairs = real.imagenet_captions(captions_json, train_root, fields=fields)
    table = pd.DataFrame({"filepath": [str(Path(p).resolve()) for p in pairs.paths], "caption": pairs.captions,
                          "label": pairs.labels})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table[table.caption.str.strip() != ""].to_csv(path, index=False)
    return path


def train_supervised(train_csv: str | Path, out: str | Path, run: str, config: RealConfig,
                     device: torch.device | None = None) -> dict[int, Path]:
    """The same image tower with a 1000-way prototype head, cross-entropy on the images' labels,
    with open_clip_train's augmentation and schedule; checkpoints under ``out/run/checkpoints``."""
    pairs = real.csv_dataset(train_csv, transform=imagenet_runs.preprocess(config.model, is_train=True), target="label")
    return train_classifier(create_supervised(config.model, n_classes=1000, seed=config.seed), pairs, Path(out) / run / "checkpoints", epochs=config.epochs,
                            batch_size=config.batch_size * (config.gpus or 1), lr=config.lr,
                            weight_decay=config.weight_decay, warmup=config.warmup,
                            workers=config.workers, seed=config.seed, device=device)


def effective_robustness(points: pd.DataFrame, *, n_boot: int = 1000) -> tuple[pd.DataFrame, BaselineFit]:
    """ER of every CLIP run's final checkpoint against the line through the supervised
    checkpoints, with a bootstrap interval over the baseline models; and the line itself."""
    base = points[points.method == "supervised"]
    line = fit_baseline(base.id_accuracy, base.ood_accuracy)
    last = points[points.epoch == points.groupby("run").epoch.transform("max")]
    rows = []
    for row in last.itertuples():
        ci = effective_robustness_ci(base.id_accuracy, base.ood_accuracy, [row.id_accuracy], [row.ood_accuracy],
                                     n_boot=n_boot)
        rows.append(dict(method=row.method, run=row.run, epoch=row.epoch, id_accuracy=row.id_accuracy,
                         ood_accuracy=row.ood_accuracy, er=ci.mean, er_lo=ci.lo, er_hi=ci.hi, baseline_models=len(base)))
    return pd.DataFrame(rows), line


def run(root: str | Path, out: str | Path, config: RealConfig = RealConfig(), *, diverse_pairs: str | Path | None = None,
        shifts: Sequence[str] = SHIFTS, templates: str | Sequence[str] = "openai",
        device: str | None = None) -> pd.DataFrame:
    """The whole experiment, resumable at every stage: export, three trainings, evaluation.
    Returns the accuracy of every checkpoint on every test set (see :func:`~clipbook.learners.imagenet_runs.id_ood`).
    ``templates`` names one of :data:`~clipbook.learners.imagenet_runs.PROMPTS` or lists format strings."""
    paths, templates = locate(root, shifts, diverse_pairs), imagenet_runs.prompt_templates(templates)
    out = Path(out).expanduser().resolve()
    torch_device = torch.device(device) if device else default_device()
    captions = out / "imagenet_captions.csv"
    if not captions.exists():
        export_captions_csv(paths["imagenet_captions"], paths["imagenet_train"], captions)
    checkpoints = {("supervised", "supervised-imagenet-captions"):
                   train_supervised(captions, out, "supervised-imagenet-captions", config, torch_device),
                   ("clip", "clip-imagenet-captions"): train_clip(captions, out, "clip-imagenet-captions", config,
                                                                  device)}
    if diverse_pairs is not None:
        checkpoints["clip", "clip-diverse"] = train_clip(paths["diverse_pairs"], out, "clip-diverse", config, device)
    sets = imagenet_runs.evaluation_sets(paths, config.model, shifts)
    return imagenet_runs.evaluate_checkpoints(checkpoints, sets, config.model, out, templates=templates,
                                              batch_size=config.batch_size, workers=config.workers,
                                              device=torch_device)



NO_ER_MARGIN = 0.05
"""Claim r's margin, stated before any run: no effective robustness means within 5 points of the line."""


def no_effective_robustness(row) -> Decision:
    """Claim r from a row of :func:`effective_robustness`: its 95% bootstrap interval (over the
    baseline models) within +/- :data:`NO_ER_MARGIN`."""
    rule = Within(NO_ER_MARGIN, "stated before any run", alpha=0.025, what="95% bootstrap CI of its ER",
                  unit="baseline models")
    return rule.decide(Interval(row.er, row.er_lo, row.er_hi, int(row.baseline_models)), name="ER")
