"""A latent world of *details*: which features a caption annotates, and how they are shared.

Xue et al. (2024), Sec. 4.2 and 5: besides the class, an image carries details, and a caption
may or may not mention them. Three kinds of detail are told apart here:

- **core details**: the within-class variation of the feature that defines the class (a caption
  says "a small, pale tabby cat" rather than "a cat");
- **spurious details**: one attribute per class (think "on grass" for cows) that is present in
  its own class with probability ``p_spurious`` and in every other class with probability
  ``share_prob`` (the attribute is *shared* across classes); a caption mentions a present
  attribute with probability ``annotate_prob``;
- **background details**: features independent of the class (lighting, weather, framing).

Batched over (world, seed) like :mod:`clipbook.data.latent`, with the same common random
numbers: a seed draws the same embeddings, labels and base noise in every world, and presence is
decided by thresholding one uniform draw, so raising ``share_prob`` only *adds* attributes to
the samples that had them at a lower value.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal, Sequence

import torch

from clipbook.data.latent import (ClassBlocks, LatentBatch, check_probabilities, per_seed_draws, stack_field)
from clipbook.data.splits import Split

PromptKind = Literal["class_core", "mean_caption"]
PROMPT_KINDS: tuple[PromptKind, ...] = ("class_core", "mean_caption")


@dataclass(frozen=True)
class DetailWorld(ClassBlocks):
    """Classes with a core feature, one spurious attribute per class, and background features.

    Latent image features of a sample of class ``y`` (``K = n_classes``):

    - core ``z_c = core_mean * e_y + core_std * eps`` (``K`` dims);
    - attributes ``z_a = attr_mean * b + attr_std * eps`` (``K`` dims), ``b_j`` in {0, 1} the
      presence of attribute ``j``: probability ``p_spurious`` for ``j = y``, ``share_prob`` for
      ``j != y`` (``p_spurious_test`` and ``share_prob_test`` in the ``ood`` split: equal values
      decorrelate the attributes from the class);
    - background ``z_b = background_std * eps`` (``n_background`` dims), independent of ``y``;
    - ``n_noise`` nuisance dimensions no caption mentions.

    The caption's latent is ``[core, attributes, background]``: the core is ``z_c`` when
    ``core_details`` else the class alone (``core_mean * e_y``); each attribute is written with
    probability ``annotate_prob``; the background when ``background_details``. Unmentioned
    features are 0.
    """

    n_classes: int = 4
    core_mean: float = 1.0
    core_std: float = 1.0
    attr_mean: float = 1.0
    attr_std: float = 0.1
    p_spurious: float = 1.0
    share_prob: float = 0.0
    p_spurious_test: float = 0.5
    share_prob_test: float = 0.5
    annotate_prob: float = 1.0
    n_background: int = 4
    background_std: float = 1.0
    core_details: bool = False
    background_details: bool = False

    def __post_init__(self):
        check_probabilities(self, "p_spurious", "share_prob", "p_spurious_test", "share_prob_test", "annotate_prob")

    @property
    def attributes(self) -> slice:
        return self.class_tied

    @property
    def background(self) -> slice:
        return slice(2 * self.n_classes, 2 * self.n_classes + self.n_background)

    @property
    def text_latent_dim(self) -> int:
        return 2 * self.n_classes + self.n_background

    @property
    def latent_dim(self) -> int:
        return self.text_latent_dim + self.n_noise


_STRUCTURAL = ("n_classes", "n_background", "n_noise", "image_dim", "text_dim")


@dataclass
class DetailBatch(LatentBatch):
    """A batch of the detail world: also which attributes are present and which are mentioned."""

    b: torch.Tensor  # (M, n, K) attribute presence, 0/1
    mentioned: torch.Tensor  # (M, n, K) attribute written in the caption, 0/1
    image_embedding: torch.Tensor  # (M, image_dim, latent_dim) to map weights back to latents
    text_embedding: torch.Tensor  # (M, text_dim, text_latent_dim) to write prompts

    def select(self, models: slice | torch.Tensor) -> "DetailBatch":
        """The same batch restricted to some models (a slice or index tensor on the model axis)."""
        return DetailBatch(**{k: getattr(self, k)[models] for k in DetailBatch.__dataclass_fields__})

    def to(self, device: torch.device) -> "DetailBatch":
        return DetailBatch(**{k: getattr(self, k).to(device) for k in DetailBatch.__dataclass_fields__})


def sample_details(worlds: Sequence[DetailWorld], seeds: Sequence[int], n: int, split: Split) -> DetailBatch:
    """Draw ``n`` samples for every (world, seed) pair, world-major: ``m = w * len(seeds) + s``."""
    first = worlds[0]
    draws = per_seed_draws(worlds, seeds, _STRUCTURAL, lambda world, seed: _base_draws(world, seed, n, split))
    k, n_seeds = first.n_classes, len(seeds)
    f = {field.name: stack_field(worlds, field.name, n_seeds) for field in fields(DetailWorld)}

    y, eye = draws["y"], torch.eye(k)
    own, shared = ("p_spurious_test", "share_prob_test") if split == "ood" else ("p_spurious", "share_prob")
    presence_prob = torch.where(eye[y].bool(), f[own], f[shared])
    b = (draws["u_attr"] < presence_prob).float()
    mentioned = b * (draws["u_annotate"] < f["annotate_prob"]).float()

    z_core = f["core_mean"] * eye[y] + f["core_std"] * draws["eps_core"]
    z_attr = f["attr_mean"] * b + f["attr_std"] * draws["eps_attr"]
    z_back = f["background_std"] * draws["eps_back"]
    z_image = torch.cat([z_core, z_attr, z_back, f["noise_std"] * draws["eps_noise"]], dim=-1)

    core_text = torch.where(f["core_details"].bool(), z_core, f["core_mean"] * eye[y])
    z_text = torch.cat([core_text, mentioned * z_attr, f["background_details"] * z_back], dim=-1)
    A_img, A_txt = draws["A_img"], draws["A_txt"]
    x = z_image @ A_img.transpose(1, 2) + f["image_noise"] * draws["n_img"]
    t = z_text @ A_txt.transpose(1, 2) + f["text_noise"] * draws["n_txt"]
    return DetailBatch(x=x, t=t, y=y, b=b, mentioned=mentioned, image_embedding=A_img, text_embedding=A_txt)


def _base_draws(world: DetailWorld, seed: int, n: int, split: Split) -> dict[str, torch.Tensor]:
    """All randomness of one seed: embeddings fixed per seed, samples per (seed, split)."""
    draws, g = world.base_draws(seed, n, split)
    k = world.n_classes
    return draws | {
        "u_attr": torch.rand(n, k, generator=g),
        "u_annotate": torch.rand(n, k, generator=g),
        "eps_core": torch.randn(n, k, generator=g),
        "eps_attr": torch.randn(n, k, generator=g),
        "eps_back": torch.randn(n, world.n_background, generator=g),
        "eps_noise": torch.randn(n, world.n_noise, generator=g),
        "n_img": torch.randn(n, world.image_dim, generator=g),
        "n_txt": torch.randn(n, world.text_dim, generator=g),
    }


def class_prompts(batch: DetailBatch, world: DetailWorld, kind: PromptKind) -> torch.Tensor:
    """Zero-shot prompts ``(M, K, text_dim)``, one per class: a design choice, not a given.

    - ``class_core``: the caption that names the class and nothing else (its core feature at
      the class mean, every detail unmentioned), like "a photo of a cow";
    - ``mean_caption``: the average training caption of the class (``batch`` must be the
      training batch), which mentions the class's own attribute as often as its captions do.
    """
    k = world.n_classes
    if kind == "class_core":
        latent = torch.zeros(k, world.text_latent_dim)
        latent[:, world.core] = world.core_mean * torch.eye(k)
        return latent.expand(batch.n_models, k, -1) @ batch.text_embedding.transpose(1, 2)
    if kind == "mean_caption":
        onehot = torch.nn.functional.one_hot(batch.y, k).float()  # (M, n, K)
        sums = onehot.transpose(1, 2) @ batch.t  # (M, K, text_dim)
        return sums / onehot.sum(dim=1).clamp(min=1).unsqueeze(-1)
    raise ValueError(f"prompt kind must be one of {PROMPT_KINDS}, not {kind!r}")
