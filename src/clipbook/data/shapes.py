"""The procedural image world's vocabulary, specs and latents: what a scene shows.

Every image shows one object with a *shape*, *colour*, *size*, *texture* and *position* on a
*background*, drawn in a *style*. Styles are the book's analogues of ImageNet's distribution
shifts: ``photo`` (shading, drop shadow, sensor noise) is the training distribution; ``sketch``
(ImageNet-Sketch: grey pencil outline, no colour), ``cartoon`` and ``edge`` (ImageNet-R:
renditions) and ``noisy`` (blur and noise, ImageNet-C-like) draw the same scenes differently.

One frozen :class:`ShapesSpec` determines a data set: same spec, identical tensors. Latents
are drawn per attribute from independent seeded streams, so changing only ``styles`` redraws
the *same scenes* in another style (common random numbers for paired comparisons). Held-out
attribute-object compositions (:func:`choose_held_out`) make the compositional split. Pixels
come from :mod:`clipbook.data.render` (:func:`~clipbook.data.render.make_shapes`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import pandas as pd

from clipbook.data.frequencies import class_counts
from clipbook.data.splits import Split, check_split


SHAPES = ("circle", "square", "triangle", "diamond", "cross", "ring", "star", "ellipse", "heart", "hexagon")
COLOURS = {
    "red": (0.90, 0.12, 0.10), "orange": (1.00, 0.55, 0.05), "yellow": (0.98, 0.88, 0.10),
    "green": (0.15, 0.70, 0.20), "cyan": (0.10, 0.80, 0.85), "blue": (0.15, 0.30, 0.95),
    "purple": (0.55, 0.20, 0.80), "pink": (1.00, 0.50, 0.75),
}
SIZES = {"small": 0.30, "medium": 0.45, "large": 0.62}
"""Object radius as a fraction of half the image width."""
TEXTURES = ("solid", "stripes", "dots", "checker")
BACKGROUNDS = ("light", "gray", "dark", "gradient", "noise")
STYLES = ("photo", "sketch", "edge", "cartoon", "noisy")
POSITIONS = ("top left", "top", "top right", "left", "center", "right", "bottom left", "bottom", "bottom right")
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "shape": SHAPES, "colour": tuple(COLOURS), "size": tuple(SIZES), "texture": TEXTURES,
    "background": BACKGROUNDS, "style": STYLES, "position": POSITIONS,
}
"""Attribute -> its values; a latent code is the index of the value here."""

_EXTENT = 1.05  # every shape fits in a circle of this radius (in object units)
_SCALE_JITTER = 0.07


# ---------------------------------------------------------------- the spec and its latents

@dataclass(frozen=True)
class ShapesSpec:
    """Everything that determines a data set of the shapes world.

    Attribute values are drawn uniformly from the allowed tuples, except the class attribute
    (``class_attribute``, shape by default), whose counts follow ``class_profile``
    (:func:`clipbook.data.frequencies.class_counts`; class 0 is the head, so order the allowed
    tuple to choose which class is frequent). ``held_out`` lists (value of
    ``composition_attribute``, class) pairs, e.g. ``(("red", "circle"),)``: the ``train`` and ``id``
    splits never show them, the ``ood`` split shows only them (uniformly over the pairs).
    """

    seed: int = 0
    n: int = 10_000
    image_size: int = 32
    shapes: tuple[str, ...] = SHAPES
    colours: tuple[str, ...] = tuple(COLOURS)
    sizes: tuple[str, ...] = tuple(SIZES)
    textures: tuple[str, ...] = TEXTURES
    backgrounds: tuple[str, ...] = BACKGROUNDS
    styles: tuple[str, ...] = ("photo",)
    positions: tuple[str, ...] = POSITIONS
    class_attribute: str = "shape"
    class_profile: str = "uniform"
    alpha: float = 1.0
    composition_attribute: str = "colour"
    held_out: tuple[tuple[str, str], ...] = ()
    split: Split = "train"
    p_own: float = 0.0
    """P(an image shows its class's own value of the detail attribute, the one at the class's
    index among the allowed values, cycling); otherwise the value is drawn uniformly. Above 0 the
    value is a spurious detail of the class that other classes share (Chapter 2). On the
    composition attribute (the default) it does not combine with held-out pairs."""
    detail_attribute: str | None = None
    """The attribute ``p_own`` ties to the class; None: ``composition_attribute``. Another one lets a
    class detail and held-out compositions live in one world (Chapter 7)."""
    rotation: float = 15.0
    """Largest rotation of an object, in degrees (a nuisance, not an attribute)."""

    def __post_init__(self):
        for attribute, values in ATTRIBUTES.items():
            allowed = self.allowed(attribute)
            unknown = set(allowed) - set(values)
            if not allowed or unknown:
                raise ValueError(f"{attribute}: allowed values must be a non-empty subset of {values}, "
                                 f"got {allowed}")
        for name in ("class_attribute", "composition_attribute", "detail"):
            if getattr(self, name) not in ATTRIBUTES:
                raise ValueError(f"{name} must be one of {tuple(ATTRIBUTES)}, got {getattr(self, name)!r}")
        if self.class_attribute in (self.composition_attribute, self.detail):
            raise ValueError("composition_attribute and detail_attribute must differ from class_attribute")
        check_split(self.split)
        if self.split == "ood" and not self.held_out:
            raise ValueError("the ood split shows held-out compositions: set held_out")
        if not 0 <= self.p_own <= 1 or (self.p_own and self.held_out and self.detail == self.composition_attribute):
            raise ValueError(f"p_own must lie in [0, 1] and cannot combine with held-out pairs of its own attribute, "
                             f"got {self.p_own}")
        if self.n < 0 or self.image_size < 8:
            raise ValueError("n must be >= 0 and image_size >= 8")
        check_held_out(self.held_out, self.allowed(self.composition_attribute), self.class_names)

    @property
    def detail(self) -> str:
        """The attribute ``p_own`` ties to the class."""
        return self.detail_attribute or self.composition_attribute

    def allowed(self, attribute: str) -> tuple[str, ...]:
        """The values of ``attribute`` this data set draws from."""
        return getattr(self, f"{attribute}s")

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.allowed(self.class_attribute)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def with_split(self, split: Split, seed: int | None = None, n: int | None = None) -> "ShapesSpec":
        """The same world, another split (and optionally seed or size): train and test sets from one spec."""
        return replace(self, split=split, seed=self.seed if seed is None else seed, n=self.n if n is None else n)


def check_held_out(pairs: Sequence[tuple[str, str]], values: Sequence[str], objects: Sequence[str]) -> None:
    """Raise unless every pair is valid and every value and every object is still seen in training."""
    unknown = [p for p in pairs if p[0] not in values or p[1] not in objects]
    if unknown:
        raise ValueError(f"held-out pairs {unknown} are not (value, class) pairs of {values} x {objects}")
    held = set(map(tuple, pairs))
    unseen_values = [v for v in values if all((v, o) in held for o in objects)]
    unseen_objects = [o for o in objects if all((v, o) in held for v in values)]
    if unseen_values or unseen_objects:
        raise ValueError(f"holding out {sorted(held)} leaves {unseen_values + unseen_objects} unseen in training")


def choose_held_out(values: Sequence[str], objects: Sequence[str], n_pairs: int,
                    seed: int = 0) -> tuple[tuple[str, str], ...]:
    """Pick ``n_pairs`` (value, object) compositions to hold out, at random, keeping every
    value and every object in training (Abbasi et al.'s compositional split: the parts are
    familiar, only their combination is new).

    Greedy over a seeded shuffle of all pairs: a pair is taken when its value and its object
    both keep another pair in training.
    """
    rng = np.random.default_rng(seed)
    left_per_value = dict.fromkeys(values, len(objects))
    left_per_object = dict.fromkeys(objects, len(values))
    chosen = []
    for i in rng.permutation(len(values) * len(objects)):
        if len(chosen) == n_pairs:
            break
        value, obj = values[i // len(objects)], objects[i % len(objects)]
        if left_per_value[value] > 1 and left_per_object[obj] > 1:
            left_per_value[value] -= 1
            left_per_object[obj] -= 1
            chosen.append((value, obj))
    if len(chosen) < n_pairs:
        raise ValueError(f"could hold out only {len(chosen)} of {n_pairs} pairs of {len(values)} values x "
                         f"{len(objects)} objects while keeping each seen; ask for fewer")
    return tuple(chosen)


def rng_stream(seed: int, split: str, name: str) -> np.random.Generator:
    """An independent generator per (seed, split, purpose), so one attribute's draws never shift another's."""
    words = [seed, *(int.from_bytes(s.encode(), "little") for s in (split, name))]
    return np.random.default_rng(np.random.SeedSequence(words))


def _codes(spec: ShapesSpec, attribute: str, n: int) -> np.ndarray:
    """Uniform draws from the allowed values of an attribute, as global codes."""
    allowed = np.array([ATTRIBUTES[attribute].index(v) for v in spec.allowed(attribute)])
    return allowed[rng_stream(spec.seed, spec.split, attribute).integers(len(allowed), size=n)]


def _class_and_composition(spec: ShapesSpec) -> tuple[np.ndarray, np.ndarray]:
    """Class labels (indices into ``spec.class_names``) and composition values (indices into the allowed values)."""
    rng = rng_stream(spec.seed, spec.split, "class")
    values, objects = spec.allowed(spec.composition_attribute), spec.class_names
    held = np.zeros((len(objects), len(values)), dtype=bool)
    for value, obj in spec.held_out:
        held[objects.index(obj), values.index(value)] = True
    if spec.split == "ood":
        obj_idx, value_idx = np.nonzero(held)
        pick = rng.integers(len(obj_idx), size=spec.n)
        return obj_idx[pick], value_idx[pick]
    counts = class_counts(spec.class_profile, spec.n_classes, spec.n, alpha=spec.alpha)
    labels = rng.permutation(np.repeat(np.arange(spec.n_classes), counts))
    # a uniform draw among the values each image's class may take: argmax of masked noise
    noise = rng.random((spec.n, len(values)))
    value = np.where(held[labels], -1.0, noise).argmax(axis=1)
    if spec.p_own and spec.detail == spec.composition_attribute:
        value = _own_or(spec, labels, value)
    return labels, value


def _own_or(spec: ShapesSpec, labels: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Each image's class's own detail value with probability ``p_own``, else ``value`` (indices
    into the detail's allowed values), from a stream of its own: the other draws are those of p_own = 0."""
    own = rng_stream(spec.seed, spec.split, "own").random(spec.n) < spec.p_own
    return np.where(own, labels % len(spec.allowed(spec.detail)), value)


def sample_latents(spec: ShapesSpec) -> pd.DataFrame:
    """One row per image: the attribute codes (indices into :data:`ATTRIBUTES`), ``label``
    (index into ``spec.class_names``), and the continuous geometry ``x, y`` (centre, in [-1, 1],
    y down), ``scale`` (radius over half-width) and ``angle`` (degrees)."""
    n = spec.n
    labels, composition = _class_and_composition(spec)
    codes = {a: _codes(spec, a, n) for a in ATTRIBUTES}
    indices = {spec.class_attribute: labels, spec.composition_attribute: composition}
    if spec.p_own and spec.detail != spec.composition_attribute:
        position = {ATTRIBUTES[spec.detail].index(v): i for i, v in enumerate(spec.allowed(spec.detail))}
        indices[spec.detail] = _own_or(spec, labels, np.vectorize(position.get)(codes[spec.detail]))
    for attribute, idx in indices.items():
        codes[attribute] = np.array([ATTRIBUTES[attribute].index(v) for v in spec.allowed(attribute)])[idx]
    geometry = rng_stream(spec.seed, spec.split, "geometry").uniform(-1, 1, size=(4, n))
    scale = np.array(list(SIZES.values()))[codes["size"]] * (1 + _SCALE_JITTER * geometry[0])
    # the position cell (3 x 3) picks a third of the room the object has; the jitter places it inside
    room = np.clip(0.92 - _EXTENT * scale, 0, None)  # a margin of 4% of the width: no object touches the frame
    row, col = np.divmod(codes["position"], 3)
    x = ((col - 1) * 2 / 3 + geometry[1] / 3) * room
    y = ((row - 1) * 2 / 3 + geometry[2] / 3) * room
    return pd.DataFrame({**codes, "label": labels, "x": x, "y": y, "scale": scale,
                         "angle": spec.rotation * geometry[3]})


def attribute_names(latents: pd.DataFrame) -> pd.DataFrame:
    """The attribute columns of a latents table as readable (categorical) names, for the
    attribute-object tables of Chapter 5 (compositional generalization)."""
    return pd.DataFrame({a: pd.Categorical.from_codes(latents[a], categories=list(v)) for a, v in ATTRIBUTES.items()})
