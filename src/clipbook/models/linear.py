"""Batched linear models: ``M`` independent models stored as stacked weight tensors.

A model is a dict of tensors whose leading axis indexes the model, so a sweep over seeds and
settings trains as one tensor program (``torch.bmm``) instead of a Python loop over models.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

Params = dict[str, torch.Tensor]


def init_weights(n_models: int, d_out: int, d_in: int, scale: float, generator: torch.Generator) -> torch.Tensor:
    """Gaussian weights with standard deviation ``scale / sqrt(d_in)``: (n_models, d_out, d_in)."""
    return torch.randn(n_models, d_out, d_in, generator=generator) * (scale / math.sqrt(d_in))


def init_clip(n_models: int, image_dim: int, text_dim: int, embed_dim: int, *, init_scale: float = 1.0,
              temperature: float = 0.07, seed: int = 0) -> Params:
    """Linear image and text encoders plus CLIP's log inverse temperature, per model."""
    g = torch.Generator().manual_seed(seed)
    return {
        "image": init_weights(n_models, embed_dim, image_dim, init_scale, g),
        "text": init_weights(n_models, embed_dim, text_dim, init_scale, g),
        "logit_scale": torch.full((n_models,), math.log(1.0 / temperature)),
    }


def init_classifier(n_models: int, in_dim: int, n_classes: int, *, init_scale: float = 1.0, seed: int = 0) -> Params:
    """Linear softmax classifier (supervised baseline on the same inputs)."""
    g = torch.Generator().manual_seed(seed)
    return {"weight": init_weights(n_models, n_classes, in_dim, init_scale, g), "bias": torch.zeros(n_models, n_classes)}


def encode(weight: torch.Tensor, inputs: torch.Tensor, normalize: bool = True) -> torch.Tensor:
    """``(M, n, d_in) -> (M, n, d_out)``; L2-normalized as in CLIP unless told otherwise."""
    out = torch.bmm(inputs, weight.transpose(1, 2))
    return F.normalize(out, dim=-1) if normalize else out


def classifier_logits(params: Params, inputs: torch.Tensor) -> torch.Tensor:
    return torch.bmm(inputs, params["weight"].transpose(1, 2)) + params["bias"].unsqueeze(1)
