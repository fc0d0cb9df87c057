"""Chapter 7's world: every chapter's mechanism as a knob of one shapes world.

Eight shape classes in eight colours, the colour x shape grid the compositions of Chapter 5. The
six knobs, each at two levels (-1 / +1, :data:`KNOBS`):

- ``within_captions`` (Chapter 1): captions name the within-class variation (size, position) or not;
- ``detail_captions`` (Chapter 2): texture is a detail each class has more often than others (its
  own texture with probability ``1 - detail_share``, else any), and captions name it or not;
- ``negatives`` (Chapter 3): the weight of negative pairs in the loss's normalizer (the bounded
  variant of Chapter 3), CLIP's 1 or less;
- ``diversity`` (Chapter 4): training images in one drawing style or in several;
- ``coverage`` (Chapter 5): the share of colour-shape compositions training shows (Latin square);
- ``long_tail`` (Chapter 6): classes equally frequent or on a power law.

Captions always name the colour and the shape. Test sets, the same for every run of a seed: the ID
set (photos, compositions every run saw, texture as in training), the unseen styles (drawn in
styles no training set holds, texture drawn whatever the class: the distribution shift of the
effective-robustness reading), and the unseen compositions (photos of compositions no run saw).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, NamedTuple

import numpy as np

from clipbook.data.captions import CaptionSpec, captions
from clipbook.data.compositions import latin_square_held_out
from clipbook.data.diversity import ID, TrainingSet
from clipbook.data.frequencies import profile_weights
from clipbook.data.render import ShapesData, make_shapes
from clipbook.data.shapes import ShapesSpec

TEST_SEED = 3_000_000  # the test sets' scenes differ from every training scene of the seed
UNSEEN_COMPOSITIONS = "unseen compositions"


class Knob(NamedTuple):
    """One mechanism's switch: its chapter, what it changes, and the values at levels -1 and +1."""
    chapter: int
    what: str
    low: object
    high: object


@dataclass(frozen=True)
class JointWorld:
    """The shapes world with the six knobs; the fields set the levels (calibrated in Chapters 1-6)."""

    n_train: int = 3000
    n_test: int = 400
    image_size: int = 32
    context_length: int = 20
    shapes: tuple[str, ...] = ("circle", "square", "triangle", "diamond", "cross", "ring", "star", "heart")
    colours: tuple[str, ...] = ("red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink")
    textures: tuple[str, ...] = ("solid", "stripes", "dots", "checker")
    sizes: tuple[str, ...] = ("medium", "large")
    positions: tuple[str, ...] = ("center", "left", "right", "top", "bottom")
    backgrounds: tuple[str, ...] = ("light", "gray", "dark")
    within_attributes: tuple[str, ...] = ("size", "position")
    detail_share: float = 0.4
    narrow_styles: tuple[str, ...] = ("photo",)
    diverse_styles: tuple[str, ...] = ("photo", "sketch", "cartoon")
    unseen_styles: tuple[str, ...] = ("edge", "noisy")
    negative_weight: float = 0.1
    coverages: tuple[float, float] = (0.5, 0.75)
    alpha: float = 1.0

    def __post_init__(self):
        if set(self.unseen_styles) & (set(self.narrow_styles) | set(self.diverse_styles)):
            raise ValueError("the unseen styles must be styles no training distribution holds")
        if len(self.coverages) != 2 or not self.coverages[0] < self.coverages[1]:
            raise ValueError(f"coverages are two levels (low, high) with low < high, got {self.coverages}")
        for coverage in self.coverages:  # a coverage that leaves a colour without partners fails here, not in a run
            latin_square_held_out(self.colours, self.shapes, coverage)
        if not 0 < self.negative_weight < 1 or not 0 <= self.detail_share <= 1:
            raise ValueError("negative_weight must lie in (0, 1) and detail_share in [0, 1]")

    @property
    def knobs(self) -> dict[str, Knob]:
        return {
            "within_captions": Knob(1, "captions name size and position", False, True),
            "detail_captions": Knob(2, "captions name the texture, a detail classes share", False, True),
            "negatives": Knob(3, "weight of negative pairs in the loss", self.negative_weight, 1.0),
            "diversity": Knob(4, "training styles", self.narrow_styles, self.diverse_styles),
            "coverage": Knob(5, "share of colour-shape compositions seen", *self.coverages),
            "long_tail": Knob(6, "class frequencies", "uniform", f"power law, alpha {self.alpha:g}"),
        }

    def value(self, knob: str, level: int) -> object:
        """A knob's value at level -1 or +1."""
        k = self.knobs[knob]
        return k.high if level > 0 else k.low

    def classes(self, seed: int) -> tuple[str, ...]:
        """The shapes in the seed's order: the first is the long tail's head class."""
        return tuple(self.shapes[i] for i in np.random.default_rng(seed).permutation(len(self.shapes)))

    def held_out(self, seed: int, coverage: float) -> tuple[tuple[str, str], ...]:
        """The compositions training at ``coverage`` never shows (nested: a higher coverage holds out a subset)."""
        return latin_square_held_out(self.colours, self.classes(seed), coverage, seed)

    def frequencies(self, long_tail: bool) -> np.ndarray:
        """The classes' training frequencies, head first (in :meth:`classes` order, whatever the seed)."""
        return profile_weights("power_law" if long_tail else "uniform", len(self.shapes), self.alpha)

    def spec(self, seed: int, n: int, styles, held_out, *, split: str = "train", p_own: float | None = None,
             long_tail: bool = False, test: bool = False) -> ShapesSpec:
        """The seed's classes in the seed's order; a ``test`` set draws its scenes from another seed."""
        return ShapesSpec(seed=TEST_SEED + seed if test else seed, n=n, image_size=self.image_size,
                          shapes=self.classes(seed), colours=self.colours, textures=self.textures, sizes=self.sizes, positions=self.positions,
                          backgrounds=self.backgrounds, styles=tuple(styles), composition_attribute="colour",
                          detail_attribute="texture", held_out=held_out, split=split,
                          p_own=1 - self.detail_share if p_own is None else p_own,
                          class_profile="power_law" if long_tail else "uniform", alpha=self.alpha)

    def caption_spec(self, levels: Mapping[str, int], seed: int) -> CaptionSpec:
        named = ("colour", *(self.within_attributes if levels["within_captions"] > 0 else ()),
                 *(("texture",) if levels["detail_captions"] > 0 else ()))
        return CaptionSpec(kind="template", attributes=named, seed=seed)

    def training_set(self, levels: Mapping[str, int], seed: int) -> TrainingSet:
        """A run's image-caption pairs (``levels``: knob -> -1 / +1); the loss's knob is the trainer's."""
        spec = self.spec(seed, self.n_train, self.value("diversity", levels["diversity"]),
                         self.held_out(seed, self.value("coverage", levels["coverage"])),
                         long_tail=levels["long_tail"] > 0)
        data = make_shapes(spec)
        return TrainingSet(data.images, data.labels, captions(data.latents, self.caption_spec(levels, seed)))

    def test_sets(self, seed: int) -> dict[str, ShapesData]:
        """ID, each unseen style, and the unseen compositions: the same for every run of ``seed``."""
        seen_by_all = self.held_out(seed, self.coverages[0])
        sets = {ID: make_shapes(self.spec(seed, self.n_test, self.narrow_styles, seen_by_all, split="id", test=True))}
        for style in self.unseen_styles:
            sets[style] = make_shapes(self.spec(seed, self.n_test, (style,), seen_by_all, split="id", p_own=0.0,
                                                test=True))
        sets[UNSEEN_COMPOSITIONS] = make_shapes(self.spec(seed, self.n_test, self.narrow_styles,
                                                          self.held_out(seed, self.coverages[1]), split="ood",
                                                          test=True))
        return sets

    def unseen_pairs(self, seed: int) -> list[tuple[str, str]]:
        """The (colour, shape) compositions of the unseen-compositions test set."""
        return sorted(self.held_out(seed, self.coverages[1]))
