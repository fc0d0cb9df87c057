"""Losses for batched models: open_clip's ``ClipLoss`` vmapped over models, and variants.

Every function returns one loss per model, shape ``(M,)``. Summing them before ``backward``
gives each model exactly the gradient it would get alone.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from open_clip.loss import ClipLoss

_clip_loss = torch.func.vmap(ClipLoss(), in_dims=(0, 0, 0))


def clip_loss(image_features: torch.Tensor, text_features: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE (open_clip's ``ClipLoss``) of ``M`` models: features ``(M, n, d)``."""
    return _clip_loss(image_features, text_features, logit_scale)


def weighted_negatives_loss(image_features: torch.Tensor, text_features: torch.Tensor, logit_scale: torch.Tensor,
                            neg_weight: torch.Tensor | float, inside: torch.Tensor | float = 1.0) -> torch.Tensor:
    """Symmetric InfoNCE whose negative pairs count with weight ``neg_weight`` outside the
    log-sum-exp and ``inside`` within it, per model, both in [0, 1] (1 and 1: CLIP's loss).

    Outside, ``-s_ii + neg_weight * logsumexp_j s_ij``: 0 keeps only the positive-pair term,
    and any weight below 1 leaves the loss unbounded below. Inside,
    ``-s_ii + log(exp(s_ii) + inside * sum_{j != i} exp(s_ij))``: bounded below by 0 for every
    weight, because the positive pair stays in its own normalizer.
    """
    logits = logit_scale.view(-1, 1, 1) * torch.bmm(image_features, text_features.transpose(1, 2))
    positives = torch.diagonal(logits, dim1=1, dim2=2)
    v = torch.as_tensor(inside, dtype=logits.dtype, device=logits.device).reshape(-1, 1, 1)
    if (v != 1).any():  # CLIP's weights skip it: the same numbers as without the option
        off_diagonal = ~torch.eye(logits.shape[-1], dtype=torch.bool, device=logits.device)
        logits = torch.where(off_diagonal, logits + torch.log(v), logits)
    w = torch.as_tensor(neg_weight, dtype=logits.dtype).reshape(-1, 1)
    per_direction = [w * torch.logsumexp(lg, dim=-1) - positives for lg in (logits, logits.transpose(1, 2))]
    return 0.5 * (per_direction[0] + per_direction[1]).mean(dim=-1)


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy per model: logits ``(M, n, K)``, labels ``(M, n)``."""
    per_sample = F.cross_entropy(logits.transpose(1, 2), labels, reduction="none")
    return per_sample.mean(dim=-1)
