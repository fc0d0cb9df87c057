"""Chapter 4's world: a narrow (ImageNet-like) and a diverse (web-like) training distribution.

The shapes world stands in for ImageNet and the web (Fang et al. 2022). The *narrow*
distribution is ImageNet's: photos of the objects on a few plain backgrounds. The *diverse* one
is the web's: the same kind of scenes drawn in several styles on every background. The test
sets are ImageNet's shifts: the narrow distribution's own test set (ID) and one set per drawing
style (OOD).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping, NamedTuple, Sequence

import numpy as np
import pandas as pd
import torch

from clipbook.data.captions import CaptionSpec, captions
from clipbook.data.render import ShapesData, make_shapes
from clipbook.data.shapes import BACKGROUNDS, ShapesSpec

TEST_SEED = 1_000_000  # the test sets are the same for every model and every seed
ID = "ID"


@dataclass(frozen=True)
class DiversityWorld:
    """The narrow and diverse training distributions, the test sets, and the captions.

    Scenes are drawn with the same seed in both distributions, so image ``i`` of the narrow and
    of the diverse training set show the same object: only style and background differ.
    """

    n_train: int = 4000
    n_test: int = 1000
    image_size: int = 32
    narrow_styles: tuple[str, ...] = ("photo",)
    narrow_backgrounds: tuple[str, ...] = ("light", "gray")
    diverse_styles: tuple[str, ...] = ("photo", "sketch", "cartoon", "noisy")
    shift_styles: tuple[str, ...] = ("sketch", "edge", "cartoon", "noisy")
    positions: tuple[str, ...] = ("center",)
    sizes: tuple[str, ...] = ("medium", "large")
    textures: tuple[str, ...] = ("solid", "stripes")
    caption_attributes: tuple[str, ...] = ("colour", "size", "texture")  # what the object looks like, not how it is drawn
    p_mention: float = 0.2
    p_class: float = 0.8
    context_length: int = 24

    def spec(self, styles: Sequence[str], backgrounds: Sequence[str], seed: int, n: int) -> ShapesSpec:
        return ShapesSpec(seed=seed, n=n, image_size=self.image_size, styles=tuple(styles),
                          backgrounds=tuple(backgrounds), positions=self.positions, sizes=self.sizes, textures=self.textures)

    def narrow(self, seed: int, n: int) -> ShapesSpec:
        """The narrow (ImageNet-like) distribution: its training and ID test images."""
        return self.spec(self.narrow_styles, self.narrow_backgrounds, seed, n)

    def diverse(self, seed: int, n: int) -> ShapesSpec:
        """The diverse (web-like) distribution: its styles on every background."""
        return self.spec(self.diverse_styles, BACKGROUNDS, seed, n)

    @property
    def covered_shifts(self) -> tuple[str, ...]:
        """The shift styles the diverse distribution contains."""
        return tuple(s for s in self.shift_styles if s in self.diverse_styles)

    def without(self, style: str) -> "DiversityWorld":
        """This world with ``style`` left out of the diverse distribution (the other styles share
        its images): the leave-one-style-out arm's training distribution."""
        if style not in self.diverse_styles or len(self.diverse_styles) < 2:
            raise ValueError(f"can only leave out one of several diverse styles {self.diverse_styles}, not {style!r}")
        return replace(self, diverse_styles=tuple(s for s in self.diverse_styles if s != style))

    @property
    def class_names(self) -> tuple[str, ...]:
        return ShapesSpec().class_names

    def test_sets(self) -> dict[str, ShapesData]:
        """:func:`test_sets` of this world."""
        return test_sets(self)

    def caption_spec(self, seed: int) -> CaptionSpec:
        """Web-like captions (a title and a description): the class is named in a fraction
        ``p_class`` of them, each listed attribute in a fraction ``p_mention``."""
        return CaptionSpec(kind="web", attributes=self.caption_attributes, p_mention=self.p_mention,
                           p_class=self.p_class, tags=False, n_noise_words=1, seed=seed)


class TrainingSet(NamedTuple):
    images: torch.Tensor
    labels: torch.Tensor  # the true class of every image
    captions: list[str]


def training_set(world: DiversityWorld, diverse_fraction: float, size_fraction: float, seed: int) -> TrainingSet:
    """A mixture of the two distributions over the same scenes: the first ``diverse_fraction``
    of the images come from the diverse distribution, the rest from the narrow one; a smaller
    ``size_fraction`` keeps the first images of the full set (nested subsets)."""
    if not (0 <= diverse_fraction <= 1 and 0 < size_fraction <= 1):
        raise ValueError("diverse_fraction must lie in [0, 1] and size_fraction in (0, 1]")
    n = round(world.n_train * size_fraction)
    narrow = make_shapes(world.narrow(seed, world.n_train))
    diverse = make_shapes(world.diverse(seed, world.n_train))
    cut = round(world.n_train * diverse_fraction)
    images = torch.cat([diverse.images[:cut], narrow.images[cut:]])[:n]
    latents = pd.concat([diverse.latents[:cut], narrow.latents[cut:]])[:n]
    texts = captions(latents, world.caption_spec(seed))
    return TrainingSet(images, torch.tensor(latents["label"].to_numpy()), texts)


def test_sets(world: DiversityWorld) -> dict[str, ShapesData]:
    """The ID test set (the narrow distribution) and one OOD set per shift style (every
    background), all showing the same scenes."""
    sets = {ID: make_shapes(world.narrow(TEST_SEED, world.n_test))}
    for style in world.shift_styles:
        sets[style] = make_shapes(world.spec((style,), BACKGROUNDS, TEST_SEED, world.n_test))
    return sets


def accuracy_columns(accuracies: Mapping[str, float], shifts: Sequence[str]) -> dict[str, float]:
    """A model's accuracies on :func:`test_sets` as table columns: ``id_accuracy``, ``ood_accuracy``
    (the mean over the ``shifts`` styles) and ``acc_<style>`` for each shift."""
    return {"id_accuracy": accuracies[ID], "ood_accuracy": float(np.mean([accuracies[s] for s in shifts])),
            **{f"acc_{s}": accuracies[s] for s in shifts}}


DECORRELATED = "colour decorrelated"


@dataclass(frozen=True)
class SharedDetailWorld:
    """Chapter 2's mechanism in images: a detail of each class that other classes share.

    Photos of the narrow distribution, except that colour is a class's spurious detail: an image
    shows its class's own colour with probability ``1 - share`` and otherwise a colour drawn
    uniformly (so every colour also appears in every other class). There are as many classes as
    colours. The ID test set is drawn the same way; the shifted one (:data:`DECORRELATED`) draws
    every colour uniformly, whatever the class, so a model that took the colour for the class loses
    there. Duck-types what :mod:`clipbook.experiments.feature_sharing_images` reads of a world.
    """

    n_train: int = 4000
    n_test: int = 500
    share: float = 0.4
    image_size: int = 32
    context_length: int = 24
    shift_styles: tuple[str, ...] = (DECORRELATED,)

    def spec(self, seed: int, n: int, p_own: float) -> ShapesSpec:
        """Photos of the narrow distribution, one class per colour, each image in its class's own
        colour with probability ``p_own``."""
        every = ShapesSpec()
        narrow = DiversityWorld(image_size=self.image_size).narrow(seed, n)
        return replace(narrow, shapes=every.shapes[:len(every.colours)], colours=every.colours, p_own=p_own)

    def narrow(self, seed: int, n: int) -> ShapesSpec:
        """The training distribution (the role the narrow one plays in :class:`DiversityWorld`)."""
        return self.spec(seed, n, 1 - self.share)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.narrow(0, 1).class_names

    def test_sets(self) -> dict[str, ShapesData]:
        """The ID test set and the one where colour no longer follows the class, the same scenes."""
        return {ID: make_shapes(self.narrow(TEST_SEED, self.n_test)),
                DECORRELATED: make_shapes(self.spec(TEST_SEED, self.n_test, 0.0))}
