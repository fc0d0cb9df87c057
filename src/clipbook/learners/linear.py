"""Linear CLIP (MMCL) and linear supervised learning (SL), the learners of the theory chapters.

Both train ``M`` stacked models at once (a sweep of settings and seeds is one tensor program)
with the same :class:`~clipbook.training.loop.TrainConfig`, so compared methods get the same
budget. The data are a :class:`~clipbook.data.latent.LatentBatch` (stacked ``x`` image inputs,
``t`` caption inputs, ``y`` labels of shape ``(M, n, ...)``), such as
:class:`~clipbook.data.latent.PairedBatch` or :class:`~clipbook.data.details.DetailBatch`.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Sequence, TypeVar

import torch

from clipbook.data.latent import LatentBatch
from clipbook.models import linear
from clipbook.models.towers import MAX_LOGIT_SCALE
from clipbook.training.loop import TrainConfig, train
from clipbook.training.losses import clip_loss, cross_entropy

Batch = TypeVar("Batch", bound=LatentBatch)


def stack_batches(batches: Sequence[Batch], device: torch.device) -> Batch:
    """Concatenate dataclass batches along the model axis, on ``device`` (one tensor program for all)."""
    kind = type(batches[0])
    return kind(**{f.name: torch.cat([getattr(b, f.name) for b in batches]).to(device) for f in fields(kind)})


def train_mmcl(data: LatentBatch, embed_dim: int, config: TrainConfig, *, desc: str = "MMCL") -> linear.Params:
    """Linear image and text encoders with CLIP's loss and learned temperature."""
    params = linear.init_clip(data.n_models, data.x.shape[-1], data.t.shape[-1], embed_dim, seed=config.seed)

    def loss_fn(p, idx):
        scale = p["logit_scale"].exp().clamp(max=MAX_LOGIT_SCALE)
        return clip_loss(linear.encode(p["image"], data.x[:, idx]), linear.encode(p["text"], data.t[:, idx]), scale)

    return train(params, loss_fn, data.x.shape[1], config, desc=desc, device=data.x.device).params


def train_sl(data: LatentBatch, n_classes: int, config: TrainConfig, *, desc: str = "SL") -> linear.Params:
    """Linear softmax classifier with cross-entropy: the same images, the same budget."""
    params = linear.init_classifier(data.n_models, data.x.shape[-1], n_classes, seed=config.seed)

    def loss_fn(p, idx):
        return cross_entropy(linear.classifier_logits(p, data.x[:, idx]), data.y[:, idx])

    return train(params, loss_fn, data.x.shape[1], config, desc=desc, device=data.x.device).params
