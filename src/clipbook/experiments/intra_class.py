"""Chapter 1: intra-class contrasting (Xue et al., ICLR 2024).

Linear CLIP models (MMCL) trained on full captions and on class-only captions, and a linear
supervised classifier (SL) on the same images, for every (core variance, seed) pair at once.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import pandas as pd
import torch

from clipbook.data.latent import PairedBatch, SpuriousWorld, sample_spurious
from clipbook.device import default_device
from clipbook.evaluate.linear import accuracy, signal_share
from clipbook.evaluate.stats import Interval, mean_ci, paired_difference, spearman_per_group, summarize
from clipbook.losses import clip_loss, cross_entropy
from clipbook.models import linear
from clipbook.train import TrainConfig, train

MMCL, MMCL_CLASS_ONLY, SL = "MMCL", "MMCL, class-only captions", "SL"
METHODS = (MMCL, MMCL_CLASS_ONLY, SL)
MAX_LOGIT_SCALE = 100.0  # open_clip's clamp on the learned inverse temperature


def _stack(batches: Sequence[PairedBatch], device: torch.device) -> PairedBatch:
    """Concatenate batches along the model axis (one tensor program for all of them)."""
    return PairedBatch(**{k: torch.cat([getattr(b, k) for b in batches]).to(device) for k in PairedBatch.__dataclass_fields__})


def train_mmcl(data: PairedBatch, embed_dim: int, config: TrainConfig, *, desc: str = "MMCL") -> linear.Params:
    """Linear image and text encoders with CLIP's loss and learned temperature."""
    params = linear.init_clip(data.n_models, data.x.shape[-1], data.t.shape[-1], embed_dim, seed=config.seed)

    def loss_fn(p, idx):
        scale = p["logit_scale"].exp().clamp(max=MAX_LOGIT_SCALE)
        return clip_loss(linear.encode(p["image"], data.x[:, idx]), linear.encode(p["text"], data.t[:, idx]), scale)

    return train(params, loss_fn, data.x.shape[1], config, desc=desc, device=data.x.device).params


def train_sl(data: PairedBatch, n_classes: int, config: TrainConfig, *, desc: str = "SL") -> linear.Params:
    """Linear softmax classifier with cross-entropy: the same images, the same budget."""
    params = linear.init_classifier(data.n_models, data.x.shape[-1], n_classes, seed=config.seed)

    def loss_fn(p, idx):
        return cross_entropy(linear.classifier_logits(p, data.x[:, idx]), data.y[:, idx])

    return train(params, loss_fn, data.x.shape[1], config, desc=desc, device=data.x.device).params


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
    clip_train = _stack([split["full", "train"], split["class_only", "train"]], device)
    clip_params = train_mmcl(clip_train, embed_dim, config)
    sl_params = train_sl(_stack([split["full", "train"]], device), world.n_classes, config)

    # Images are identical across caption kinds (common random numbers), so one test set serves all.
    id_set, ood_set = (_stack([split["full", s]] * 2, device) for s in ("id", "ood"))
    clip_classifier = linear.zero_shot_classifier(clip_params, id_set.prompts)
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
        frame = pd.DataFrame({
            "method": method,
            "core_std": torch.tensor(core_stds).repeat_interleave(len(seeds)).numpy(),
            "seed": torch.tensor(list(seeds)).repeat(len(core_stds)).numpy(),
            "id_accuracy": accuracy(scores["id"], id_set.y[:m]).cpu().numpy(),
            "ood_accuracy": accuracy(scores["ood"], ood_set.y[:m]).cpu().numpy(),
            "spurious_share": share.cpu().numpy(),
        })
        rows.append(frame)
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
