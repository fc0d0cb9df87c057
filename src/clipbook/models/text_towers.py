"""Frozen text towers for Chapter 5: is disentangled text what makes images disentangle?

Abbasi et al. argue that contrastive training passes the structure of the text embeddings on to
the image embeddings. :class:`FrozenTextCLIP` tests that by fixing the text side: an open_clip
image tower (and its temperature) learns to match captions whose embeddings never change. The
fixed embedding reads the caption's attribute (colour) and object (shape) words only:

- ``additive``: a random vector per attribute plus a random vector per object, so attribute and
  object are separate directions (a perfectly disentangled text space);
- ``entangled``: one unrelated random vector per (attribute, object) composition, so nothing is
  shared between "red circle" and "red square" (a maximally entangled one).

Both carry the same information (which composition a caption names); only its structure differs.
"""

from __future__ import annotations

import math
from typing import Literal, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from clipbook.models.towers import MAX_LOGIT_SCALE, seeded

TextKind = Literal["additive", "entangled"]
TEXT_KINDS = ("additive", "entangled")


def word_index(vocabulary: Sequence[str], words: Sequence[str]) -> torch.Tensor:
    """``[V]`` position of each vocabulary entry in ``words``, -1 for every other token."""
    position = {w: k for k, w in enumerate(words)}
    return torch.tensor([position.get(w, -1) for w in vocabulary], dtype=torch.long)


class FrozenText(nn.Module):
    """A fixed map from tokens to embeddings through a caption's attribute and object words.

    A caption without an attribute (or object) word uses a "none" entry, all zero in the
    additive tower. Tokens are read as ``WordTokenizer`` writes them; the tables are buffers.
    """

    def __init__(self, kind: TextKind, vocabulary: Sequence[str], attributes: Sequence[str], objects: Sequence[str],
                 dim: int):
        super().__init__()
        if kind not in TEXT_KINDS:
            raise ValueError(f"kind must be one of {TEXT_KINDS}, got {kind!r}")
        self.kind = kind
        self.register_buffer("attribute_of", word_index(vocabulary, attributes))
        self.register_buffer("object_of", word_index(vocabulary, objects))
        n_a, n_o = self.n_attributes, self.n_objects = len(attributes), len(objects)
        if kind == "additive":
            self.register_buffer("attribute_table", torch.cat([torch.randn(n_a, dim), torch.zeros(1, dim)]) / math.sqrt(dim))
            self.register_buffer("object_table", torch.cat([torch.randn(n_o, dim), torch.zeros(1, dim)]) / math.sqrt(dim))
        else:
            self.register_buffer("pair_table", torch.randn(n_a + 1, n_o + 1, dim) / math.sqrt(dim))

    def parts(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Attribute and object index of each caption (the "none" index where a caption names none)."""
        def read(index: torch.Tensor, none: int) -> torch.Tensor:
            found = index[tokens].max(dim=-1).values
            return torch.where(found < 0, none, found)

        return read(self.attribute_of, self.n_attributes), read(self.object_of, self.n_objects)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        a, o = self.parts(tokens)
        if self.kind == "additive":
            return self.attribute_table[a] + self.object_table[o]
        return self.pair_table[a, o]


class FrozenTextCLIP(nn.Module):
    """An open_clip image tower and a learned temperature trained against a :class:`FrozenText`;
    called like ``open_clip.CLIP``: ``model(images, tokens) -> (image, text, logit scale)``."""

    def __init__(self, visual: nn.Module, text: FrozenText, init_logit_scale: float = math.log(1 / 0.07)):
        super().__init__()
        self.visual = visual
        self.text = text
        self.logit_scale = nn.Parameter(torch.tensor(init_logit_scale))

    def encode_image(self, images: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        features = self.visual(images)
        return F.normalize(features, dim=-1) if normalize else features

    def encode_text(self, tokens: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        features = self.text(tokens)
        return F.normalize(features, dim=-1) if normalize else features

    def forward(self, images: torch.Tensor, tokens: torch.Tensor):
        return (self.encode_image(images, normalize=True), self.encode_text(tokens, normalize=True),
                self.logit_scale.exp().clamp(max=MAX_LOGIT_SCALE))


def create_frozen_text_clip(visual: nn.Module, kind: TextKind, vocabulary: Sequence[str], attributes: Sequence[str],
                            objects: Sequence[str], *, seed: int = 0) -> FrozenTextCLIP:
    """A :class:`FrozenTextCLIP` on ``visual`` whose random text tables depend on ``seed`` only."""
    with seeded(seed):
        text = FrozenText(kind, vocabulary, attributes, objects, visual.output_dim)
    return FrozenTextCLIP(visual, text)
