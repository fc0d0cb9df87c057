"""Ren & Li's model: two linear encoders of paired views, held in a norm ball.

Linear encoders ``f_A(x) = W_A x`` and ``f_B(x) = W_B x`` with unnormalized features, trained from a
small initialization on a symmetric InfoNCE loss at a fixed temperature whose negative pairs count
with a weight (1: CLIP's loss, 0: positive pairs only). Every encoder lives in a Frobenius-norm
ball (:func:`within_ball`): below weight 1 the loss is unbounded below, and the ball is what makes
it a problem at all. Here are the pieces a batched sweep of such models needs: the start, the loss,
what is measured during training, and how well a trained pair matches images to captions.
"""

from __future__ import annotations

from typing import Sequence

import torch

from clipbook.data.views import PairedViews, ViewSpec
from clipbook.evaluate import spectral
from clipbook.models import linear
from clipbook.training.loop import Params
from clipbook.training.losses import weighted_negatives_loss

LOGIT_SCALE = 1.0
"""The fixed inverse temperature ``tau``. With unnormalized features ``tau`` only rescales the
weights (``W -> W / sqrt(tau)``) and the learning rate, so one value loses no generality."""


def init_encoders(seeds: Sequence[int], blocks: int, spec: ViewSpec, embed_dim: int, init_scale: float) -> Params:
    """Small Gaussian encoders, one pair per seed, tiled ``blocks`` times (common random numbers:
    every setting of a seed starts from the same weights)."""
    per_seed = []
    for seed in seeds:
        g = torch.Generator().manual_seed(10_007 * seed + 1)
        per_seed.append({"image": linear.init_weights(1, embed_dim, spec.dim_a, init_scale, g)[0],
                         "text": linear.init_weights(1, embed_dim, spec.dim_b, init_scale, g)[0]})
    return {k: torch.stack([p[k] for p in per_seed]).repeat(blocks, 1, 1) for k in ("image", "text")}


def within_ball(weight: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
    """``weight`` scaled back onto the ball ``||W||_F <= radius`` where it leaves it (per model).

    A reparametrization rather than a projection step, so the one training loop can use it: inside
    the ball it is the identity, outside the gradient moves only the direction.
    """
    norm = weight.flatten(1).norm(dim=1)
    return weight * (radius / norm).clamp(max=1.0).view(-1, 1, 1)


def contrastive_loss(data: PairedViews, neg_weight: torch.Tensor, radius: torch.Tensor, inside: torch.Tensor | float = 1.0):
    """``loss_fn(params, idx)`` for :func:`clipbook.training.loop.train`: weighted-negatives InfoNCE
    (:func:`~clipbook.training.losses.weighted_negatives_loss`) on unnormalized linear features of
    the constrained encoders."""
    scale = torch.full_like(neg_weight, LOGIT_SCALE)

    def loss_fn(params: Params, idx: torch.Tensor) -> torch.Tensor:
        # float32 even under the loop's bf16 autocast on a GPU: a weak direction's gradient is
        # 1 / kappa_z of a strong one's, below bf16's resolution.
        with torch.autocast(data.x_a.device.type, enabled=False):
            x_a, x_b = data.x_a.index_select(1, idx), data.x_b.index_select(1, idx)  # a gather ten times faster than x[:, idx]
            f_a = linear.encode(within_ball(params["image"], radius), x_a, normalize=False)
            f_b = linear.encode(within_ball(params["text"], radius), x_b, normalize=False)
            return weighted_negatives_loss(f_a, f_b, scale, neg_weight, inside)

    return loss_fn


def representation_metrics(probe: PairedViews, radius: torch.Tensor):
    """``metrics(params)`` for the training loop: the spectrum of ``R_A = W_A U_A D``, its
    condition number and effective rank, the alignment of positive pairs on ``probe``, and how
    far the image encoder's parameters reach relative to the norm ball."""

    def metrics(params: Params) -> dict[str, torch.Tensor]:
        w_a, w_b = within_ball(params["image"], radius), within_ball(params["text"], radius)
        rep = (w_a @ probe.mixing_a).double()  # float64: a collapsed direction is far below float32's resolution
        s = spectral.singular_values(rep)
        features = (linear.encode(w_a, probe.x_a, normalize=False), linear.encode(w_b, probe.x_b, normalize=False))
        return {
            "condition": spectral.condition_number(rep),
            "effective_rank": spectral.effective_rank(rep),
            "alignment": spectral.paired_cosine(*features),
            "ball_usage": params["image"].flatten(1).norm(dim=1) / radius,  # above 1: the constraint binds
            **{f"sv_{i}": s[:, i] for i in range(s.shape[1])},
        }

    return metrics


def matching(params: Params, radius: torch.Tensor, views: PairedViews, candidates: int) -> torch.Tensor:
    """Per model: how often an image is matched to its own caption among ``candidates`` by the
    trained similarity (:func:`~clipbook.evaluate.spectral.matching_accuracy`)."""
    features = (linear.encode(within_ball(params[tower], radius), x, normalize=False)
                for tower, x in (("image", views.x_a), ("text", views.x_b)))
    return spectral.matching_accuracy(*features, candidates)
