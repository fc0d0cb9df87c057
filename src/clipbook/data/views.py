"""Two views of one anisotropic latent: the paired data of Ren & Li (2023).

A latent ``z`` in ``R^r`` has independent coordinates whose variances fall geometrically from 1
to ``1 / kappa_z`` (so ``kappa_z`` is the condition number of its covariance). Each view sees it
through its own random isometric embedding plus isotropic noise:

    x_A = U_A z + noise_std * xi_A,    x_B = U_B z + noise_std * xi_B.

A positive pair shares ``z``; the two views differ in their embedding and their noise (the
paper's image and caption). Writing ``z = D g`` with ``g`` standard normal and
``D = diag(sqrt(variances))``, the views are ``x = (U D) g + noise``: the *mixing* ``U D`` is
what an encoder has to undo, and ``W U D`` is the learned representation of the latent.

Many (spec, seed) pairs are drawn at once as ``(M, n, dim)`` tensors, spec-major
(``m = spec_index * len(seeds) + seed_index``), with *common random numbers*: seed ``s`` draws the
same ``g``, noise and embeddings under every spec, so specs differ only in what they change.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import torch

from clipbook.data.latent import check_shared, random_embedding
from clipbook.data.splits import Split, split_generator



def latent_spectrum(latent_dim: int, kappa_z: float) -> torch.Tensor:
    """Variances ``kappa_z ** (-i / (r - 1))``, ``i = 0 .. r-1``: from 1 down to ``1 / kappa_z``."""
    if kappa_z < 1:
        raise ValueError(f"kappa_z is a condition number and must be at least 1, got {kappa_z}")
    if latent_dim == 1:
        return torch.ones(1)
    return float(kappa_z) ** (-torch.arange(latent_dim, dtype=torch.float64) / (latent_dim - 1))


@dataclass(frozen=True)
class ViewSpec:
    """The paired-view world: latent size and spectrum, view dimensions, noise."""

    latent_dim: int = 8
    kappa_z: float = 100.0  # condition number of the latent covariance
    dim_a: int = 32
    dim_b: int = 32
    noise_std: float = 0.02
    unpaired: int = 0
    """The strongest ``unpaired`` latent directions are drawn afresh for view B: they no longer tie
    an image to its caption (Chapter 3's shifted world, where only the weaker directions pair)."""

    def __post_init__(self):
        if not 0 <= self.unpaired < self.latent_dim:
            raise ValueError(f"unpaired must lie in [0, latent_dim), got {self.unpaired}")
        if self.latent_dim > min(self.dim_a, self.dim_b):
            raise ValueError(f"latent_dim {self.latent_dim} exceeds a view dimension ({self.dim_a}, {self.dim_b})")
        latent_spectrum(self.latent_dim, self.kappa_z)  # validates kappa_z

    def shifted(self) -> "ViewSpec":
        """The shifted world of Chapter 3's robustness read-out: the same views, but the strongest
        quarter of the latent directions no longer pairs them (an image's caption now speaks of what
        was weak in pre-training)."""
        return replace(self, unpaired=self.latent_dim // 4)

    @property
    def variances(self) -> torch.Tensor:
        return latent_spectrum(self.latent_dim, self.kappa_z).float()


_STRUCTURAL = ("latent_dim", "dim_a", "dim_b")


@dataclass
class PairedViews:
    """Stacked samples of ``M`` (spec, seed) pairs; model ``m`` sees ``x_a[m], x_b[m]``."""

    x_a: torch.Tensor  # (M, n, dim_a)
    x_b: torch.Tensor  # (M, n, dim_b)
    z: torch.Tensor  # (M, n, latent_dim) the shared latent
    mixing_a: torch.Tensor  # (M, dim_a, latent_dim) U_A D: x_a = g @ mixing_a^T + noise
    mixing_b: torch.Tensor  # (M, dim_b, latent_dim)

    @property
    def n_models(self) -> int:
        return self.x_a.shape[0]

    def to(self, device: torch.device) -> "PairedViews":
        return PairedViews(**{k: getattr(self, k).to(device) for k in self.__dataclass_fields__})

    def select(self, index: torch.Tensor) -> "PairedViews":
        """The data of models ``index`` (e.g. each model of a sweep gets its (spec, seed)'s data)."""
        return PairedViews(**{k: getattr(self, k).index_select(0, index) for k in self.__dataclass_fields__})

    def repeat(self, times: int) -> "PairedViews":
        """The same data for ``times`` consecutive blocks of models (e.g. one per loss setting)."""
        return PairedViews(**{k: getattr(self, k).repeat(times, *[1] * (getattr(self, k).dim() - 1))
                              for k in self.__dataclass_fields__})


def sample_views(specs: Sequence[ViewSpec], seeds: Sequence[int], n: int, split: Split) -> PairedViews:
    """Draw ``n`` pairs for every (spec, seed), spec-major, with common random numbers."""
    check_shared(specs, _STRUCTURAL)
    draws = [_seed_draws(specs[0], seed, n, split) for seed in seeds]
    stacked = {k: torch.stack([d[k] for d in draws]) for k in draws[0]}
    parts = []
    for spec in specs:
        std = spec.variances.sqrt()
        mix_a, mix_b = stacked["U_a"] * std, stacked["U_b"] * std
        g = stacked["g"]
        g_b = torch.cat([stacked["g_b"][..., :spec.unpaired], g[..., spec.unpaired:]], dim=-1)
        parts.append(PairedViews(
            x_a=g @ mix_a.transpose(1, 2) + spec.noise_std * stacked["xi_a"],
            x_b=g_b @ mix_b.transpose(1, 2) + spec.noise_std * stacked["xi_b"],
            z=g * std, mixing_a=mix_a, mixing_b=mix_b,
        ))
    return PairedViews(**{k: torch.cat([getattr(p, k) for p in parts]) for k in PairedViews.__dataclass_fields__})


def _seed_draws(spec: ViewSpec, seed: int, n: int, split: Split) -> dict[str, torch.Tensor]:
    """All randomness of one seed: embeddings fixed per seed, samples per (seed, split)."""
    g_world = torch.Generator().manual_seed(seed)
    U_a = random_embedding(spec.dim_a, spec.latent_dim, g_world)
    U_b = random_embedding(spec.dim_b, spec.latent_dim, g_world)
    g = split_generator(seed, split)
    return {
        "U_a": U_a,
        "U_b": U_b,
        "g": torch.randn(n, spec.latent_dim, generator=g),
        "xi_a": torch.randn(n, spec.dim_a, generator=g),
        "xi_b": torch.randn(n, spec.dim_b, generator=g),
        "g_b": torch.randn(n, spec.latent_dim, generator=g),  # drawn last: the draws above stay the same
    }
