"""Chapter 5's world: attribute-object compositions, some never seen in training.

Abbasi et al.'s compositional out-of-distribution (C-OoD) test shows an object with an
attribute it never had in training, although both were seen with other partners. Here the
attribute is the colour and the object the shape of the shapes world; size and texture are two
more factors, and background, position and rotation are nuisances.

:func:`latin_square_held_out` removes whole diagonals of the colour x shape grid, so every
colour and every shape loses the same number of partners and keeps its frequency (a random
hold-out would make some colours rarer than others); ``coverage`` is the share of compositions
seen. ``dependence`` ties each shape to one colour in the training pairs (at fixed coverage),
which raises the normalized mutual information (NMI) between attribute and object words in the
captions, the quantity Abbasi et al. relate to compositional generalization.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np
import pandas as pd
import torch
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import normalized_mutual_info_score

from clipbook.data.captions import WORDS, CaptionSpec, captions, words_of
from clipbook.data.render import render
from clipbook.data.shapes import ATTRIBUTES, ShapesSpec, rng_stream, sample_latents

ATTRIBUTE, OBJECT = "colour", "shape"
"""The composition's two parts: an adjective and a noun, as in ImageNet-AO."""
FACTORS = (ATTRIBUTE, OBJECT)
TEST_SEED = 2_000_000  # the unseen-composition images are the same for every model of a seed's hold-out


def latin_square_held_out(values: Sequence[str], objects: Sequence[str], coverage: float,
                          seed: int = 0) -> tuple[tuple[str, str], ...]:
    """The (value, object) pairs removed from training: the cells of ``round((1 - coverage) n)``
    diagonals of the ``n x n`` grid, after a seeded shuffle of the objects. Every value and every
    object keeps ``n - k`` of its ``n`` partners, so the marginals stay uniform."""
    n = len(values)
    if len(objects) != n:
        raise ValueError(f"a Latin-square hold-out needs as many values as objects, got {n} and {len(objects)}")
    if not 0 < coverage <= 1:
        raise ValueError(f"coverage must lie in (0, 1], got {coverage}")
    k = round((1 - coverage) * n)
    if k > n - 1:
        raise ValueError(f"coverage {coverage} leaves no training partner for some value; the least is {1 / n:.3f}")
    order = np.random.default_rng(seed).permutation(n)
    return tuple((values[v], objects[order[(v + d) % n]]) for d in range(k) for v in range(n))


def partner(values: Sequence[str], objects: Sequence[str], held_out: Sequence[tuple[str, str]]) -> dict[str, str]:
    """One seen value per object, each value the partner of exactly one object (a perfect
    matching of the seen grid, by the Hungarian algorithm), so that tying objects to partners
    keeps every marginal."""
    held = set(map(tuple, held_out))
    seen = np.array([[(v, o) not in held for v in values] for o in objects])
    rows, cols = linear_sum_assignment(seen, maximize=True)
    if not seen[rows, cols].all() or len(rows) < len(objects):
        raise ValueError("no matching of objects to distinct seen values exists for this hold-out")
    return {objects[r]: values[c] for r, c in zip(rows, cols)}


def tie_to_partners(latents: pd.DataFrame, spec: ShapesSpec, dependence: float) -> pd.DataFrame:
    """Training latents whose colour is the shape's partner with probability ``dependence`` and
    otherwise as drawn (uniform over the shape's seen colours): the same seen compositions, the
    same marginals, more dependence between attribute and object."""
    if not 0 <= dependence <= 1:
        raise ValueError(f"dependence must lie in [0, 1], got {dependence}")
    colours, shapes = spec.allowed(ATTRIBUTE), spec.allowed(OBJECT)
    matched = partner(colours, shapes, spec.held_out)
    code_of = {s: ATTRIBUTES[ATTRIBUTE].index(matched[s]) for s in shapes}
    partner_code = np.array([code_of[ATTRIBUTES[OBJECT][c]] for c in latents[OBJECT]])
    tied = rng_stream(spec.seed, spec.split, "dependence").random(len(latents)) < dependence
    return latents.assign(**{ATTRIBUTE: np.where(tied, partner_code, latents[ATTRIBUTE].to_numpy())})


def caption_nmi(texts: Sequence[str], values: Sequence[str] = ATTRIBUTES[ATTRIBUTE],
                objects: Sequence[str] = ATTRIBUTES[OBJECT]) -> float:
    """Normalized mutual information (arithmetic mean of the entropies) between the attribute
    word and the object word of the captions that name exactly one of each."""
    value_words, object_words = set(values), set(objects)
    pairs = []
    for text in texts:
        words = words_of(text)
        v, o = [w for w in words if w in value_words], [w for w in words if w in object_words]
        if len(v) == 1 and len(o) == 1:
            pairs.append((v[0], o[0]))
    if not pairs:
        raise ValueError("no caption names exactly one attribute and one object")
    first, second = zip(*pairs)
    return float(normalized_mutual_info_score(first, second))


@dataclass(frozen=True)
class CompositionWorld:
    """Colour x shape compositions with size and texture as further factors.

    The hold-out depends on the seed, so a result over seeds is a result over hold-outs too.
    Captions mention the shape always and each of ``caption_attributes`` with ``p_mention``.
    """

    n_train: int = 4000
    n_test: int = 800
    image_size: int = 32
    shapes: tuple[str, ...] = ("circle", "square", "triangle", "diamond", "cross", "ring", "star", "heart")
    colours: tuple[str, ...] = tuple(ATTRIBUTES["colour"])
    sizes: tuple[str, ...] = ("medium", "large")
    textures: tuple[str, ...] = ("solid", "stripes", "dots", "checker")
    backgrounds: tuple[str, ...] = ("light", "gray", "dark")
    positions: tuple[str, ...] = ("center", "left", "right", "top", "bottom")
    caption_attributes: tuple[str, ...] = ("colour", "size", "texture")
    context_length: int = 12

    def held_out(self, coverage: float, seed: int) -> tuple[tuple[str, str], ...]:
        return latin_square_held_out(self.colours, self.shapes, coverage, seed)

    def spec(self, coverage: float, seed: int, split: str = "train", n: int | None = None) -> ShapesSpec:
        n = n if n is not None else (self.n_train if split == "train" else self.n_test)
        return ShapesSpec(seed=seed if split == "train" else TEST_SEED + seed, n=n, image_size=self.image_size,
                          shapes=self.shapes, colours=self.colours, sizes=self.sizes, textures=self.textures,
                          backgrounds=self.backgrounds, positions=self.positions, class_attribute=OBJECT,
                          composition_attribute=ATTRIBUTE, held_out=self.held_out(coverage, seed), split=split)

    def caption_spec(self, p_mention: float, seed: int) -> CaptionSpec:
        return CaptionSpec(kind="template", attributes=self.caption_attributes, p_mention=p_mention, seed=seed)

    def factor_words(self) -> dict[str, tuple[str, ...]]:
        """The caption words of each factor's values in this world (shape, colour, size, texture)."""
        return {a: tuple(WORDS[a][ATTRIBUTES[a].index(v)] for v in getattr(self, f"{a}s"))
                for a in ("shape", "colour", "size", "texture")}


class Compositions(NamedTuple):
    """Images with their latents and captions, and the (value, object) index of each image."""

    images: torch.Tensor
    latents: pd.DataFrame
    captions: list[str]

    def factors(self, world: CompositionWorld) -> np.ndarray:
        """``[n, 2]`` attribute and object of every image as indices into the world's values."""
        return np.stack([pd.Categorical(self.latents[f].map(dict(enumerate(ATTRIBUTES[f]))),
                                        categories=list(getattr(world, f"{f}s"))).codes for f in FACTORS], axis=1)


def composition_pairs(data) -> list[tuple[str, str]]:
    """The (attribute, object) words of every image of a data set (anything with ``latents``:
    :class:`Compositions`, :class:`~clipbook.data.render.ShapesData`)."""
    return list(zip(*(data.latents[f].map(dict(enumerate(ATTRIBUTES[f]))) for f in FACTORS)))


def training_pairs(world: CompositionWorld, coverage: float, dependence: float, p_mention: float,
                   seed: int) -> Compositions:
    """The image-caption pairs a model trains on: seen compositions only."""
    spec = world.spec(coverage, seed)
    latents = tie_to_partners(sample_latents(spec), spec, dependence)
    return Compositions(render(latents, spec.image_size, spec.seed), latents,
                        captions(latents, world.caption_spec(p_mention, seed)))


def unseen_compositions(world: CompositionWorld, coverage: float, seed: int) -> Compositions:
    """Test images of the compositions held out of training (each composition equally often)."""
    spec = world.spec(coverage, seed, split="ood")
    latents = sample_latents(spec)
    return Compositions(render(latents, spec.image_size, spec.seed), latents,
                        captions(latents, world.caption_spec(1.0, spec.seed)))
