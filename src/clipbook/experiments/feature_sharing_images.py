"""Chapter 2 in images: Xue et al.'s caption experiment, in the shapes world.

Xue et al. train CLIP on image-caption data with full captions and with label-only text, at
several training lengths, and compare the lines their models lie on in ID-vs-OOD accuracy. Here
tiny open_clip towers train on the narrow distribution of :class:`~clipbook.data.diversity.DiversityWorld`
(photos on plain backgrounds) with captions that describe each image's details, or with text that
only names its class; every checkpoint is one point, tested on the narrow test set (ID) and on
the drawing styles the training set never shows (OOD).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from clipbook.data.captions import CaptionSpec, WordTokenizer, captions, zero_shot_prompts
from clipbook.data.diversity import DiversityWorld, accuracy_columns, test_sets
from clipbook.data.render import make_shapes
from clipbook.device import default_device
from clipbook.evaluate.robustness import line_gap, overlap_midpoint
from clipbook.evaluate.stats import UNDECIDED, Interval
from clipbook.learners.sweeps import Sweep
from clipbook.learners.towers import train_clip_measured
from clipbook.models.towers import create_clip
from clipbook.progress import progress
from clipbook.training.loop import TrainConfig

FULL, LABEL_ONLY = "full captions", "label only"
DETAILS = ("size", "colour", "texture", "background", "position")
"""What a full caption may describe besides the class: every attribute the narrow images vary in."""


def caption_specs(p_detail: float) -> dict[str, CaptionSpec]:
    """The two kinds of text: a template around the class with each detail mentioned with
    probability ``p_detail`` ("a photo of a small red striped circle on a light background."),
    or the same templates around the class alone ("a photo of a circle.")."""
    return {FULL: CaptionSpec(kind="template", attributes=DETAILS, p_mention=p_detail),
            LABEL_ONLY: CaptionSpec(kind="template")}


def run_sweep(world: DiversityWorld, seeds: Sequence[int], config: TrainConfig, *, p_detail: float = 1.0,
              model_name: str = "tiny-rn", text_layers: int = 1, device: torch.device | None = None) -> Sweep:
    """Both kinds of text at every seed, on the same images: one row per (variant, seed,
    checkpoint) with ID accuracy, the accuracy on each shift style and their mean (OOD)."""
    device = device or default_device()
    started = time.perf_counter()
    tests = test_sets(world)
    tokenizer = WordTokenizer(context_length=world.context_length)
    prompts = tokenizer([p for ensemble in zero_shot_prompts(world.class_names) for p in ensemble])
    rows = []
    for seed in progress(list(seeds), desc="seeds", unit="seed"):
        data = make_shapes(world.narrow(seed, world.n_train))
        for variant, spec in caption_specs(p_detail).items():
            text = captions(data.latents, replace(spec, seed=seed))
            model = create_clip(model_name, seed=seed, text_cfg={"context_length": world.context_length,
                                                                 "layers": text_layers})
            checkpoints = train_clip_measured([model], data.images, tokenizer(text), prompts, len(world.class_names),
                                              tests, replace(config, seed=seed), device, desc=variant)
            rows += [{"variant": variant, "seed": seed, "step": int(r["step"]),
                      **accuracy_columns(r, world.shift_styles)} for r in checkpoints.to_dict("records")]
    return Sweep(pd.DataFrame(rows), time.perf_counter() - started)


def common_id_accuracy(results: pd.DataFrame) -> float:
    """Where the two lines are compared: the middle of the ID accuracies both variants reach (NaN
    when they do not overlap)."""
    return overlap_midpoint(*(results[results.variant == v].id_accuracy for v in (FULL, LABEL_ONLY)))


def claim_statistics(results: pd.DataFrame, n_boot: int = 1000) -> dict[str, Interval]:
    """``caption_line_gap``: OOD accuracy on the full captions' line minus on the label-only line,
    each fitted in logit space to its checkpoints, at :func:`common_id_accuracy`; the interval
    resamples seeds (a run's checkpoints are not independent). Undecided when the variants'
    ID accuracies do not overlap."""
    at = common_id_accuracy(results)
    if np.isnan(at):
        return {"caption_line_gap": UNDECIDED}
    full, label = (results[results.variant == v] for v in (FULL, LABEL_ONLY))
    return {"caption_line_gap": line_gap(full, label, at, n_boot=n_boot)}
