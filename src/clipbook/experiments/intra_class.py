"""Chapter 1: intra-class contrasting (Xue et al., ICLR 2024).

Linear CLIP models (MMCL) trained on full captions and on class-only captions, and a linear
supervised classifier (SL) on the same images, for every (core variance, seed) pair at once.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import pandas as pd
import torch

from clipbook.data.latent import SpuriousWorld, sample_spurious
from clipbook.device import default_device
from clipbook.evaluate.classify import accuracy
from clipbook.evaluate.readout import signal_share
from clipbook.evaluate.stats import Interval, mean_ci, paired_difference, spearman_per_group, summarize
from clipbook.evaluate.zero_shot import linear_head
from clipbook.learners.linear import stack_batches, train_mmcl, train_sl
from clipbook.learners.sweeps import model_table
from clipbook.training.loop import TrainConfig

MMCL, MMCL_CLASS_ONLY, SL = "MMCL", "MMCL, class-only captions", "SL"
METHODS = (MMCL, MMCL_CLASS_ONLY, SL)


def run_sweep(world: SpuriousWorld, core_stds: Sequence[float], seeds: Sequence[int], *, n_train: int,
              n_test: int, embed_dim: int, config: TrainConfig, device: torch.device | None = None) -> pd.DataFrame:
    """Train every method at every (core_std, seed); one row per model with its accuracies and
    the share of its class signal that comes from the spurious feature."""
    device = device or default_device()
    worlds = {
        captions: [replace(world, core_std=s, captions=captions) for s in core_stds]
        for captions in ("full", "class_only")
    }
    split = {
        (captions, name): sample_spurious(ws, seeds, n_test if name != "train" else n_train, name)
        for captions, ws in worlds.items() for name in ("train", "id", "ood")
    }
    clip_train = stack_batches([split["full", "train"], split["class_only", "train"]], device)
    clip_params = train_mmcl(clip_train, embed_dim, config)
    sl_params = train_sl(stack_batches([split["full", "train"]], device), world.n_classes, config)

    # Images are identical across caption kinds (common random numbers), so one test set serves all.
    id_set, ood_set = (stack_batches([split["full", s]] * 2, device) for s in ("id", "ood"))
    clip_classifier = linear_head(clip_params, id_set.prompts)
    sl_classifier = sl_params["weight"]
    m = len(core_stds) * len(seeds)
    classifiers = {MMCL: clip_classifier[:m], MMCL_CLASS_ONLY: clip_classifier[m:], SL: sl_classifier}
    bias = {MMCL: None, MMCL_CLASS_ONLY: None, SL: sl_params["bias"]}
    rows = []
    for method, w in classifiers.items():
        b = bias[method]
        scores = {name: torch.bmm(ds.x[:m], w.transpose(1, 2)) + (0 if b is None else b.unsqueeze(1))
                  for name, ds in (("id", id_set), ("ood", ood_set))}
        share = signal_share(w, id_set.image_embedding[:m], world.spurious, world.core,
                             world.spurious_mean, world.core_mean)
        settings = [{"method": method, "core_std": s} for s in core_stds]
        rows.append(model_table(settings, seeds).drop(columns="model").assign(
            id_accuracy=accuracy(scores["id"], id_set.y[:m]).cpu().numpy(),
            ood_accuracy=accuracy(scores["ood"], ood_set.y[:m]).cpu().numpy(),
            spurious_share=share.cpu().numpy(),
        ))
    return pd.concat(rows, ignore_index=True)


def claim_statistics(results: pd.DataFrame) -> dict[str, Interval]:
    """The statistics the chapter's four claims are decided on (95% CIs over seeds).

    - ``advantage``: OOD accuracy of MMCL minus SL at the highest core variance (paired by seed);
    - ``sl_share_trend``: Spearman correlation of SL's spurious share with core variance;
    - ``mmcl_share_max``: MMCL's spurious share at the core variance where it is largest;
    - ``class_only_advantage``: like ``advantage``, for MMCL trained on class-only captions;
    - ``drop_mmcl`` / ``drop_sl``: ID minus OOD accuracy at the lowest core variance.
    """
    high = results[results.core_std == results.core_std.max()]
    low = results[results.core_std == results.core_std.min()]
    mmcl_share = summarize(results[results.method == MMCL], "core_std", "spurious_share")
    worst = mmcl_share.loc[mmcl_share["mean"].idxmax()]
    drop = low.assign(drop=low.id_accuracy - low.ood_accuracy)
    return {
        "advantage": paired_difference(high, "ood_accuracy", "method", MMCL, SL),
        "sl_share_trend": mean_ci(spearman_per_group(results[results.method == SL], "core_std", "spurious_share")),
        "mmcl_share_max": Interval(worst["mean"], worst["lo"], worst["hi"], int(worst["n"])),
        "class_only_advantage": paired_difference(high, "ood_accuracy", "method", MMCL_CLASS_ONLY, SL),
        "drop_mmcl": mean_ci(drop[drop.method == MMCL]["drop"]),
        "drop_sl": mean_ci(drop[drop.method == SL]["drop"]),
    }
