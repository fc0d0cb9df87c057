"""Reading linear classifiers: how much of a classifier's class signal each latent feature
carries (Chapters 1 and 2)."""

from __future__ import annotations

import torch


def _double_centred_norm(block: torch.Tensor) -> torch.Tensor:
    """Frobenius norm of a ``(M, K, K)`` block after removing row and column means.

    Softmax ignores a shift shared by all classes (row means), and a weight shared by every
    value of a one-hot feature is not class information (column means): what is left is the
    part of the block that moves the arg-max when the feature points to another class.
    """
    centred = block - block.mean(dim=1, keepdim=True)
    centred = centred - centred.mean(dim=2, keepdim=True)
    return centred.flatten(1).norm(dim=1)


def signal_share(classifier: torch.Tensor, embedding: torch.Tensor, part: slice, other: slice,
                 part_scale: torch.Tensor | float, other_scale: torch.Tensor | float) -> torch.Tensor:
    """Share of the class signal a linear classifier takes from latent block ``part``.

    ``classifier`` maps inputs to class scores ``(M, K, d)``; ``embedding`` maps latents to
    inputs ``(M, d, L)``. Each one-hot block's signal is its double-centred weight norm times the
    block's class-mean scale; the share is ``part / (part + other)``, in [0, 1]. Above 0.5 the
    ``part`` feature outvotes the ``other`` one when the two disagree.
    """
    latent = torch.bmm(classifier, embedding)
    s_part = _double_centred_norm(latent[..., part]) * torch.as_tensor(part_scale).reshape(-1)
    s_other = _double_centred_norm(latent[..., other]) * torch.as_tensor(other_scale).reshape(-1)
    return s_part / (s_part + s_other)


def own_class_vote(classifier: torch.Tensor, embedding: torch.Tensor, part: slice,
                   scale: torch.Tensor | float = 1.0) -> torch.Tensor:
    """Signed vote of a one-hot latent block for its *own* class, per model ``(M,)``.

    The mean diagonal of the double-centred ``(K, K)`` block times the block's class-mean
    scale: how much feature ``k`` at full strength raises class ``k``'s score over the other
    classes. Positive: the feature votes for the class it is tied to; negative: against it.
    :func:`signal_share` measures the size of a block's signal; this gives its sign.
    """
    block = torch.bmm(classifier, embedding)[..., part]
    # the mean diagonal of the double-centred block is its mean diagonal minus its grand mean
    return (block.diagonal(dim1=1, dim2=2).mean(dim=-1) - block.mean(dim=(1, 2))) * torch.as_tensor(scale).reshape(-1)
