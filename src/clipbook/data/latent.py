"""Latent-variable worlds for the theory chapters.

Images and captions are seeded random linear embeddings of latent features plus noise, as in
the linear models the papers analyse. Many (world, seed) pairs are drawn at once as stacked
tensors of shape ``(M, n, dim)`` so that every model of a sweep trains in one tensor program.

Seeds use *common random numbers*: seed ``s`` draws the same base noise and the same embedding
matrices in every world of a sweep, so differences between settings are not sampling noise.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable, Literal, Sequence

import torch

from clipbook.data.splits import Split, split_generator



def random_embedding(dim: int, latent_dim: int, generator: torch.Generator) -> torch.Tensor:
    """A ``(dim, latent_dim)`` matrix with orthonormal columns: an isometric random embedding."""
    if latent_dim > dim:
        raise ValueError(f"embedding dimension {dim} is smaller than the latent dimension {latent_dim}")
    q, _ = torch.linalg.qr(torch.randn(dim, latent_dim, generator=generator))
    return q


def check_shared(worlds: Sequence, structural: Sequence[str]) -> None:
    """Worlds of one sweep differ only in knobs, never in the shapes of their tensors."""
    first = worlds[0]
    if any(getattr(w, f) != getattr(first, f) for w in worlds for f in structural):
        raise ValueError(f"worlds of one sweep must share {tuple(structural)}")


def per_seed_draws(worlds: Sequence, seeds: Sequence[int], structural: Sequence[str],
                   draw: Callable[[object, int], dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Every seed's randomness drawn once (``draw(first_world, seed)``) and tiled across worlds,
    world-major: the common random numbers that make settings of a sweep comparable."""
    check_shared(worlds, structural)
    base = [draw(worlds[0], seed) for seed in seeds]
    return {key: torch.stack([b[key] for b in base]).repeat(len(worlds), *[1] * base[0][key].dim()) for key in base[0]}


def check_probabilities(spec, *names: str) -> None:
    """A world's probability fields must lie in [0, 1]: fail at construction, not mid-sweep."""
    for name in names:
        if not 0.0 <= getattr(spec, name) <= 1.0:
            raise ValueError(f"{name} must be a probability, got {getattr(spec, name)}")


@dataclass(frozen=True)
class ClassBlocks:
    """What the class-based latent worlds share: the layout of their latents, a one-hot core block
    over the ``n_classes`` classes (it defines the class) and then a second class-indexed block
    (the feature tied to the class), and how the latents become image and caption inputs
    (``n_noise`` nuisance dimensions, isometric random embeddings, input noise)."""

    n_noise: int = 8
    noise_std: float = 1.0
    image_dim: int = 32
    text_dim: int = 32
    image_noise: float = 0.05
    text_noise: float = 0.05

    @property
    def core(self) -> slice:
        return slice(0, self.n_classes)

    @property
    def class_tied(self) -> slice:
        return slice(self.n_classes, 2 * self.n_classes)

    def base_draws(self, seed: int, n: int, split: Split) -> tuple[dict[str, torch.Tensor], torch.Generator]:
        """What every class world draws first: the seed's embeddings of the latents into images and
        captions (the same in every split) and the split's labels; with the split's generator,
        which the world's own draws continue."""
        g_world = torch.Generator().manual_seed(seed)
        A_img = random_embedding(self.image_dim, self.latent_dim, g_world)
        A_txt = random_embedding(self.text_dim, self.text_latent_dim, g_world)
        g = split_generator(seed, split)
        return {"A_img": A_img, "A_txt": A_txt, "y": torch.randint(self.n_classes, (n,), generator=g)}, g


@dataclass
class LatentBatch:
    """Stacked samples of ``M`` (world, seed) pairs; model ``m`` sees ``x[m], t[m], y[m]``: the
    fields the linear learners (:mod:`clipbook.learners.linear`) train on."""

    x: torch.Tensor  # (M, n, image_dim) images
    t: torch.Tensor  # (M, n, text_dim) captions
    y: torch.Tensor  # (M, n) class labels

    @property
    def n_models(self) -> int:
        return self.x.shape[0]


@dataclass(frozen=True)
class SpuriousWorld(ClassBlocks):
    """Xue et al. (2024), Sec. 4: a core feature that defines the class and a spurious one.

    Latent image features, per sample of class ``y`` (one-hot ``e_y`` over ``n_classes``):

    - core ``z_c = core_mean * e_y + core_std * eps``: carries the label; ``core_std`` is its
      within-class variance, the chapter's knob;
    - spurious ``z_s = spurious_mean * e_a + spurious_std * eps``, where ``a = y`` with
      probability ``p_spurious`` (``p_spurious_test`` in the ``ood`` split) and another class
      otherwise (``1 / n_classes`` decorrelates it, 0 flips it);
    - ``n_noise`` nuisance dimensions with standard deviation ``noise_std``.

    A caption annotates the core feature *with its within-class variation* (``"full"``), or only
    the class (``"class_only"``: every caption of a class is the same text, so nothing is left
    to contrast within a class). ``annotate_spurious`` also writes ``z_s`` into the caption.
    """

    n_classes: int = 2
    core_mean: float = 1.0
    core_std: float = 1.0
    spurious_mean: float = 1.0
    spurious_std: float = 0.1
    p_spurious: float = 0.9
    p_spurious_test: float = 0.5
    captions: Literal["full", "class_only"] = "full"
    annotate_spurious: bool = False

    def __post_init__(self):
        if self.captions not in ("full", "class_only"):
            raise ValueError(f"captions must be 'full' or 'class_only', not {self.captions!r}")
        check_probabilities(self, "p_spurious", "p_spurious_test")

    @property
    def spurious(self) -> slice:
        return self.class_tied

    @property
    def text_latent_dim(self) -> int:
        return 2 * self.n_classes

    @property
    def latent_dim(self) -> int:
        return self.text_latent_dim + self.n_noise


_STRUCTURAL = ("n_classes", "n_noise", "image_dim", "text_dim")


@dataclass
class PairedBatch(LatentBatch):
    """A batch of the spurious world: also where the spurious feature points, and the prompts."""

    a: torch.Tensor  # (M, n) class the spurious feature points to
    prompts: torch.Tensor  # (M, n_classes, text_dim) class prompts (expected caption of the class core)
    image_embedding: torch.Tensor  # (M, image_dim, latent_dim) to map weights back to latents


def stack_field(worlds: Sequence, name: str, n_seeds: int) -> torch.Tensor:
    """World field as a ``(M, 1, 1)`` tensor, world-major to match the model order."""
    values = torch.tensor([float(getattr(w, name)) for w in worlds])
    return values.repeat_interleave(n_seeds).view(-1, 1, 1)


def sample_spurious(worlds: Sequence[SpuriousWorld], seeds: Sequence[int], n: int, split: Split) -> PairedBatch:
    """Draw ``n`` samples for every (world, seed) pair, world-major: ``m = w * len(seeds) + s``."""
    first = worlds[0]
    check_shared(worlds, ("captions", "annotate_spurious"))
    draws = per_seed_draws(worlds, seeds, _STRUCTURAL, lambda world, seed: _base_draws(world, seed, n, split))
    k, n_seeds = first.n_classes, len(seeds)
    f = {field.name: stack_field(worlds, field.name, n_seeds) for field in fields(SpuriousWorld) if field.name not in ("captions",)}

    y, eye = draws["y"], torch.eye(k)
    p = f["p_spurious_test" if split == "ood" else "p_spurious"].view(-1, 1)
    other = (y + 1 + draws["shift"]) % k  # uniform over the k - 1 other classes
    a = torch.where(draws["u"] < p, y, other)
    z_core = f["core_mean"] * eye[y] + f["core_std"] * draws["eps_core"]
    z_spur = f["spurious_mean"] * eye[a] + f["spurious_std"] * draws["eps_spur"]
    z_noise = f["noise_std"] * draws["eps_noise"]
    z_image = torch.cat([z_core, z_spur, z_noise], dim=-1)

    if first.captions == "class_only":
        z_text, text_noise = torch.cat([f["core_mean"] * eye[y], torch.zeros_like(z_spur)], dim=-1), 0.0
    else:
        spur_text = z_spur if first.annotate_spurious else torch.zeros_like(z_spur)
        z_text, text_noise = torch.cat([z_core, spur_text], dim=-1), f["text_noise"]
    A_img, A_txt = draws["A_img"], draws["A_txt"]
    x = z_image @ A_img.transpose(1, 2) + f["image_noise"] * draws["n_img"]
    t = z_text @ A_txt.transpose(1, 2) + text_noise * draws["n_txt"]
    class_core = torch.cat([f["core_mean"] * eye.expand(len(y), k, k), torch.zeros(len(y), k, k)], dim=-1)
    prompts = class_core @ A_txt.transpose(1, 2)
    return PairedBatch(x=x, t=t, y=y, a=a, prompts=prompts, image_embedding=A_img)


def _base_draws(world: SpuriousWorld, seed: int, n: int, split: Split) -> dict[str, torch.Tensor]:
    """All randomness of one seed: embeddings fixed per seed, samples per (seed, split)."""
    draws, g = world.base_draws(seed, n, split)
    k = world.n_classes
    return draws | {
        "u": torch.rand(n, generator=g),
        "shift": torch.randint(max(k - 1, 1), (n,), generator=g),
        "eps_core": torch.randn(n, k, generator=g),
        "eps_spur": torch.randn(n, k, generator=g),
        "eps_noise": torch.randn(n, world.n_noise, generator=g),
        "n_img": torch.randn(n, world.image_dim, generator=g),
        "n_txt": torch.randn(n, world.text_dim, generator=g),
    }
