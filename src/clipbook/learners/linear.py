"""Linear CLIP (MMCL) and linear supervised learning (SL), the learners of the theory chapters.

Both train ``M`` stacked models at once (a sweep of settings and seeds is one tensor program)
with the same :class:`~clipbook.training.loop.TrainConfig`, so compared methods get the same
budget. The data are a :class:`~clipbook.data.latent.LatentBatch` (stacked ``x`` image inputs,
``t`` caption inputs, ``y`` labels of shape ``(M, n, ...)``), such as
:class:`~clipbook.data.latent.PairedBatch` or :class:`~clipbook.data.details.DetailBatch`.
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Sequence, TypeVar

import torch
import torch.nn.functional as F

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


def train_mmcl(data: LatentBatch, embed_dim: int, config: TrainConfig, *, desc: str = "MMCL",
               frozen_text: torch.Tensor | None = None) -> linear.Params:
    """Linear image and text encoders with CLIP's loss and learned temperature; with
    ``frozen_text`` (a pre-trained text encoder's weights) only the image encoder and the
    temperature learn, as CLIP with a locked, pre-trained text tower."""
    params = linear.init_clip(data.n_models, data.x.shape[-1], data.t.shape[-1], embed_dim, seed=config.seed)
    if frozen_text is not None:
        params.pop("text")

    def loss_fn(p, idx):
        scale = p["logit_scale"].exp().clamp(max=MAX_LOGIT_SCALE)
        text = p["text"] if frozen_text is None else frozen_text
        return clip_loss(linear.encode(p["image"], data.x[:, idx]), linear.encode(text, data.t[:, idx]), scale)

    trained = train(params, loss_fn, data.x.shape[1], config, desc=desc, device=data.x.device).params
    return trained if frozen_text is None else trained | {"text": frozen_text}


def train_sl(data: LatentBatch, n_classes: int, config: TrainConfig, *, desc: str = "SL") -> linear.Params:
    """Linear softmax classifier with cross-entropy: the same images, the same budget."""
    params = linear.init_classifier(data.n_models, data.x.shape[-1], n_classes, seed=config.seed)

    def loss_fn(p, idx):
        return cross_entropy(linear.classifier_logits(p, data.x[:, idx]), data.y[:, idx])

    return train(params, loss_fn, data.x.shape[1], config, desc=desc, device=data.x.device).params


# ---------------------------------------------------------------- supervised learning made CLIP-like

def init_prototype_classifier(n_models: int, image_dim: int, embed_dim: int, n_classes: int, *,
                              temperature: float = 0.07, seed: int = 0) -> linear.Params:
    """A linear image encoder, one prototype per class and a learned inverse temperature: the
    supervised baseline of Wen et al. (normalized features and prototypes, scale capped at 100)."""
    g = torch.Generator().manual_seed(seed)
    return {"image": linear.init_weights(n_models, embed_dim, image_dim, 1.0, g),
            "prototypes": linear.init_weights(n_models, n_classes, embed_dim, 1.0, g),
            "logit_scale": torch.full((n_models,), math.log(1.0 / temperature))}


def prototype_logits(params: linear.Params, x: torch.Tensor, head: torch.Tensor | None = None) -> torch.Tensor:
    """``(M, n, K)`` scaled cosine similarities of the images to the class prototypes (or to a
    fixed ``head`` ``(M, K, embed_dim)``, e.g. a CLIP model's text embeddings of the class names)."""
    prototypes = F.normalize(params["prototypes"] if head is None else head, dim=-1)
    scale = params["logit_scale"].exp().clamp(max=MAX_LOGIT_SCALE).view(-1, 1, 1)
    return scale * torch.bmm(linear.encode(params["image"], x), prototypes.transpose(1, 2))


def vocabulary_mask(labels: torch.Tensor, n_classes: int, vocab_size: int, weights: torch.Tensor,
                    generator: torch.Generator) -> torch.Tensor:
    """Wen et al.'s vocabulary subsampling, ``(M, K)`` bool: every class present in the batch
    (``labels`` ``(M, B)``), topped up to ``vocab_size`` with other classes drawn without
    replacement with probability proportional to ``weights`` ``(M, K)`` (Gumbel top-k)."""
    present = torch.zeros(labels.shape[0], n_classes, dtype=torch.bool, device=labels.device)
    present.scatter_(1, labels, True)
    if vocab_size >= n_classes:
        return torch.ones_like(present)
    gumbel = -torch.log(-torch.log(torch.rand(present.shape, generator=generator).clamp_min(1e-12)))
    keys = torch.where(present, torch.inf, weights.log() + gumbel.to(weights.device))
    top = keys.topk(vocab_size, dim=1).indices
    return present | torch.zeros_like(present).scatter_(1, top, True)


def train_prototype_sl(data: LatentBatch, n_classes: int, embed_dim: int, config: TrainConfig, *,
                       vocab_size: int | None = None, weights: torch.Tensor | None = None,
                       head: torch.Tensor | None = None, desc: str = "SL") -> linear.Params:
    """Cross-entropy over all classes, or (``vocab_size``) over each batch's subsampled
    vocabulary (:func:`vocabulary_mask`, drawn with ``weights`` ``(M, K)``, uniform if None);
    with a fixed ``head`` only the image encoder and the temperature learn."""
    params = init_prototype_classifier(data.n_models, data.x.shape[-1], embed_dim, n_classes, seed=config.seed)
    if head is not None:
        del params["prototypes"]
    weights = torch.ones(data.n_models, n_classes) if weights is None else weights
    generator = torch.Generator().manual_seed(config.seed + 1)

    def loss_fn(p, idx):
        logits = prototype_logits(p, data.x[:, idx], head)
        labels = data.y[:, idx]
        if vocab_size is not None:
            keep = vocabulary_mask(labels, n_classes, vocab_size, weights.to(labels.device), generator)
            logits = logits.masked_fill(~keep.unsqueeze(1), -torch.inf)
        return cross_entropy(logits, labels)

    return train(params, loss_fn, data.x.shape[1], config, desc=desc, device=data.x.device).params
