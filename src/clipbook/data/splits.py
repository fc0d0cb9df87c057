"""The one vocabulary of data splits that every world of the book uses.

- ``train``: what the models are trained on;
- ``id``: a fresh sample of the training distribution (a test set, or the probe set a
  representation is measured on);
- ``ood``: the shifted distribution (in the latent worlds the spurious correlation is broken;
  in the shapes world only the held-out attribute-object compositions are shown);
- ``pretrain``: a corpus of the same world disjoint from ``train``, on which a tower is
  pre-trained that another model then uses frozen (Chapter 6's pre-trained text head).

Each split of a seed draws from its own random stream, so a test set never shares draws with the
training set of the same seed.
"""

from __future__ import annotations

from typing import Literal

import torch

Split = Literal["train", "id", "ood", "pretrain"]
SPLITS: tuple[Split, ...] = ("train", "id", "ood", "pretrain")
_STREAM = {"train": 1, "id": 2, "ood": 3, "pretrain": 4}


def check_split(split: str) -> None:
    """Fail at construction, naming the valid splits."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def split_generator(seed: int, split: Split) -> torch.Generator:
    """The sample stream of one (seed, split), apart from the seed's own embedding stream."""
    check_split(split)
    return torch.Generator().manual_seed(seed * 7919 + _STREAM[split])
