"""Spectra of learned representations: conditioning, effective rank, alignment between views.

Every function is batched over a leading model axis, so a sweep of ``M`` models is measured in
one call: a representation is a ``(M, rows, cols)`` stack of matrices, features are
``(M, n, dim)``. Ren & Li (2023) describe the learned representation by its condition number
(is every latent direction learned, and equally strongly?); RankMe (Garrido et al., 2023) is a
smoother summary of the same spectrum that stays finite when a direction is lost.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def singular_values(matrices: torch.Tensor) -> torch.Tensor:
    """Singular values of each matrix, largest first: ``(M, p, q) -> (M, min(p, q))``."""
    return torch.linalg.svdvals(matrices)


def condition_number(matrices: torch.Tensor) -> torch.Tensor:
    """``s_max / s_min`` of each matrix, ``(M,)``; ``inf`` where a direction is lost (rank-deficient).

    For a representation ``R`` (a map from the latent to the features) it is the ratio between
    the most and the least strongly represented latent direction: 1 is perfectly balanced.
    """
    s = singular_values(matrices)
    return s[..., 0] / s[..., -1]


def effective_rank(matrices: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """RankMe (Garrido et al., 2023): ``exp`` of the entropy of the normalized singular values.

    Equals ``k`` for ``k`` equal non-zero singular values and 1 for a rank-one matrix; unlike
    the condition number it degrades gracefully as a direction fades, so it reads as "how many
    directions are in use".
    """
    s = singular_values(matrices)
    p = s / s.sum(dim=-1, keepdim=True) + eps
    return torch.exp(-(p * torch.log(p)).sum(dim=-1))


def paired_cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean cosine similarity of paired rows, ``(M, n, d), (M, n, d) -> (M,)``.

    With ``a`` and ``b`` the two views' features of the same samples, it is how well the
    positive pairs are aligned: 1 when every pair maps to the same direction, 0 for unrelated
    encoders.
    """
    return F.cosine_similarity(a, b, dim=-1).mean(dim=-1)


def matching_accuracy(a: torch.Tensor, b: torch.Tensor, candidates: int) -> torch.Tensor:
    """How often a sample's own partner scores highest, ``(M, n, d), (M, n, d) -> (M,)``.

    The rows are cut into groups of ``candidates`` consecutive samples (a remainder is left out);
    within a group each ``a`` row scores every ``b`` row by the dot product, as a contrastive model
    matches an image to its caption among a batch. The representation is read as it is: a direction
    it holds weakly counts weakly, where a fitted probe would re-weight it.
    """
    m, n, d = a.shape
    groups = n // candidates
    if groups == 0:
        raise ValueError(f"{n} samples hold no group of {candidates} candidates")
    a, b = (x[:, :groups * candidates].reshape(m, groups, candidates, d) for x in (a, b))
    best = (a @ b.transpose(-1, -2)).argmax(dim=-1)
    return (best == torch.arange(candidates, device=a.device)).float().mean(dim=(1, 2))
