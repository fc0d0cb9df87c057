"""Random image augmentations drawn per image in one batched tensor program: SimCLR's two views.

SimCLR (Chen et al. 2020) learns what survives its augmentations. In the shapes world the class
is the shape, so the augmentations change everything but the shape: where the object sits and
how large it looks (an isotropic zoom, so that an ellipse stays an ellipse), its mirror image,
brightness, contrast, colour (the order of the colour channels) and grey. There is no rotation:
a square turned by 45 degrees is a diamond. Drawing style is not an augmentation: like CLIP, a
SimCLR model sees each scene in one style only, so what it learns about styles comes from the
diversity of its images.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Augment:
    """The distribution of one random view."""

    field_of_view: tuple[float, float] = (0.75, 1.25)  # fraction of the image seen: below 1 zooms in
    shift: float = 0.15  # largest translation, as a fraction of the image's half-width
    p_flip: float = 0.5  # mirror image
    brightness: float = 0.4  # pixels times a factor drawn from 1 +/- brightness
    contrast: float = 0.4  # deviations from the image's mean times 1 +/- contrast
    p_permute: float = 0.8  # colour channels in a random order
    p_gray: float = 0.2  # the channels' mean in all three

    def __post_init__(self):
        lo, hi = self.field_of_view
        if not 0 < lo <= hi:
            raise ValueError(f"field_of_view must be (lo, hi) with 0 < lo <= hi, got {self.field_of_view}")
        for name in ("p_flip", "p_permute", "p_gray"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be a probability, got {getattr(self, name)}")
        if not (0 <= self.brightness < 1 and 0 <= self.contrast < 1 and self.shift >= 0):
            raise ValueError("brightness and contrast must lie in [0, 1) and shift must be non-negative")


def augment(images: torch.Tensor, generator: torch.Generator, spec: Augment = Augment()) -> torch.Tensor:
    """One random view of every image (``(n, 3, H, W)``, uint8 or float in [0, 1]) as floats in
    [0, 1], stored like the images (channels-last stays channels-last); every image draws its
    own parameters from ``generator`` (on the images' device)."""
    x = images.float() / 255 if images.dtype == torch.uint8 else images.float()
    n = len(x)

    def uniform(*shape: int, lo: float = 0.0, hi: float = 1.0) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(*shape, generator=generator, device=x.device)

    fov = uniform(n, lo=spec.field_of_view[0], hi=spec.field_of_view[1])
    mirror = torch.where(uniform(n) < spec.p_flip, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3, device=x.device)
    theta[:, 0, 0], theta[:, 1, 1] = mirror * fov, fov
    theta[:, :, 2] = uniform(n, 2, lo=-spec.shift, hi=spec.shift)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, padding_mode="border", align_corners=False)  # border: no mirrored copies of the object

    order = torch.argsort(uniform(n, 3), dim=1)
    permuted = x.gather(1, order[:, :, None, None].expand_as(x))
    x = torch.where((uniform(n) < spec.p_permute)[:, None, None, None], permuted, x)
    x = x * uniform(n, 1, 1, 1, lo=1 - spec.brightness, hi=1 + spec.brightness)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = mean + (x - mean) * uniform(n, 1, 1, 1, lo=1 - spec.contrast, hi=1 + spec.contrast)
    x = torch.where((uniform(n) < spec.p_gray)[:, None, None, None], x.mean(dim=1, keepdim=True).expand_as(x), x)
    return torch.empty_like(images, dtype=x.dtype).copy_(x.clamp(0, 1))  # in the images' memory layout
