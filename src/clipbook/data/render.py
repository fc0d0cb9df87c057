"""Rendering the shapes world: latents to pixels, vectorized, and the data set a spec describes.

Each shape is a signed distance function (:mod:`clipbook.data.sdf`) evaluated on batched
coordinate grids; the distance gives anti-aliased fills, outlines and shading without any
per-image Python loop. Images are rendered in chunks sorted by (style, texture, shape), so that a
chunk runs a few vectorized code paths on maps small enough to stay in cache.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from typing import Callable, Iterator, NamedTuple, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from clipbook.data.sdf import SDF
from clipbook.data.shapes import (BACKGROUNDS, COLOURS, SHAPES, STYLES, TEXTURES, ShapesSpec, rng_stream,
                                  sample_latents)
from clipbook.device import num_threads
from clipbook.progress import progress as progress_bar

_TONE = 0.45  # brightness of a texture's dark parts relative to the object colour
_BANK = 256  # noise fields per bank; an image picks one, so noise costs a gather, not an RNG call
# background colour ranges per kind: (low, high) for the base colour c0 and the second colour c1
# (gradients and noise pair a light colour with a dark one, so they always show)
_BG_C0 = np.array([(0.85, 0.97), (0.45, 0.60), (0.05, 0.20), (0.55, 0.95), (0.55, 0.90)])
_BG_C1 = np.array([(0.85, 0.97), (0.45, 0.60), (0.05, 0.20), (0.10, 0.45), (0.10, 0.45)])


class _Nuisance(NamedTuple):
    """Per-image draws that change pixels but no attribute: texture phase, light, noise choice."""

    texture_map: torch.Tensor  # (n, 2, 2): object coordinates -> texture phase (frequency, orientation)
    texture_phase: torch.Tensor  # (n, 2)
    light: torch.Tensor  # (n, 2): light direction in object coordinates, times its strength
    bg_c0: torch.Tensor  # (n, 3)
    bg_c1: torch.Tensor  # (n, 3)
    bg_dir: torch.Tensor  # (n, 2): gradient direction
    bg_kind: torch.Tensor  # (n, 2): (is gradient, is noise) as 0/1
    noise_idx: torch.Tensor  # (n, 3): fields for sensor noise, background noise, pencil wobble

    def rows(self, run: slice) -> "_Nuisance":
        return _Nuisance(*(t[run] for t in self))


def _draw_nuisance(latents: pd.DataFrame, seed: int) -> _Nuisance:
    n = len(latents)
    rng = rng_stream(seed, "render", "nuisance")
    periods = rng.uniform(0.7, 1.1, n)  # texture periods per object unit: 3 to 4 stripes across
    theta = rng.uniform(0, math.pi, n)
    turn = np.stack([np.stack([np.cos(theta), np.sin(theta)], -1), np.stack([-np.sin(theta), np.cos(theta)], -1)], 1)
    light_angle = rng.uniform(0.5, 1.0, n) * math.pi  # from the upper left
    bg_angle = rng.uniform(0, 2 * math.pi, n)
    bg = latents["background"].to_numpy()
    c0 = rng.uniform(_BG_C0[bg, :1], _BG_C0[bg, 1:], size=(n, 3))
    c1 = rng.uniform(_BG_C1[bg, :1], _BG_C1[bg, 1:], size=(n, 3))

    def as_tensor(a):
        return torch.tensor(a, dtype=torch.float32)

    return _Nuisance(
        texture_map=as_tensor(turn * periods[:, None, None]), texture_phase=as_tensor(rng.random((n, 2))),
        light=as_tensor(0.22 * np.stack([np.cos(light_angle), np.sin(light_angle)], -1)),
        bg_c0=as_tensor(c0), bg_c1=as_tensor(c1), bg_dir=as_tensor(np.stack([np.cos(bg_angle), np.sin(bg_angle)], -1)),
        bg_kind=as_tensor(np.stack([bg == BACKGROUNDS.index("gradient"), bg == BACKGROUNDS.index("noise")], -1)),
        noise_idx=torch.tensor(rng.integers(_BANK, size=(n, 3))))


class _Banks(NamedTuple):
    """Fixed noise fields and grids shared by all images of a render."""

    sensor: torch.Tensor  # (BANK, 3, H, W) white Gaussian noise
    smooth: torch.Tensor  # (BANK, H, W) smooth noise, zero mean, unit variance
    grid: torch.Tensor  # (H,) pixel centres in [-1, 1]
    hatch: torch.Tensor  # (H, W) diagonal pencil hatching, 3 px period


def _banks(image_size: int, seed: int, device: torch.device) -> _Banks:
    g = torch.Generator().manual_seed(int(rng_stream(seed, "render", "banks").integers(2**62)))
    sensor = torch.randn(_BANK, 3, image_size, image_size, generator=g)
    coarse = torch.randn(_BANK, 1, 5, 5, generator=g)
    smooth = F.interpolate(coarse, size=(image_size, image_size), mode="bicubic", align_corners=True)[:, 0]
    smooth = (smooth - smooth.mean((1, 2), keepdim=True)) / smooth.std((1, 2), keepdim=True)
    pixels = torch.arange(image_size, dtype=torch.float32)
    hatch = (torch.sin(2 * math.pi * (pixels[:, None] + pixels[None, :]) / 3) > 0.3).float()
    return _Banks(*(t.to(device) for t in (sensor, smooth, _grid(image_size), hatch)))


def _grid(image_size: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Pixel centres in [-1, 1]."""
    return (torch.arange(image_size, device=device) + 0.5) / image_size * 2 - 1


class _Scene(NamedTuple):
    """The object of each image of a batch, as maps every style draws from (n images, H x W)."""

    px: torch.Tensor  # (n, H, W) object coordinates, x right
    py: torch.Tensor  # (n, H, W) y up
    sdf: torch.Tensor  # (n, H, W) signed distance to the outline, in pixels
    pixels_per_unit: torch.Tensor  # (n, 1, 1) object units -> pixels
    mask: torch.Tensor  # (n, 1, H, W) anti-aliased coverage
    tone: torch.Tensor  # (n, 1, H, W) texture: 1 on the object colour, _TONE on its dark parts
    colour: torch.Tensor  # (n, 3, 1, 1)
    nuisance: _Nuisance

    def rows(self, run: slice) -> "_Scene":
        """The scene of the images in ``run`` (views, no copies)."""
        return _Scene(*(t[run] for t in self[:-1]), self.nuisance.rows(run))

    @property
    def flat_background(self) -> torch.Tensor:
        return self.nuisance.bg_c0[:, :, None, None]


def _column(values: torch.Tensor) -> torch.Tensor:
    """Per-image scalars ``(n,)`` as a contiguous ``(n, 1, 1)`` column to broadcast over maps.

    Broadcasting a strided column (say ``params[:, 0]``) makes a CPU op ~20x slower.
    """
    return values.contiguous().view(-1, 1, 1)


def _band(sdf: torch.Tensor, half_width: float) -> torch.Tensor:
    """Anti-aliased stroke of ``half_width`` pixels centred on the outline, as (n, 1, H, W)."""
    return (half_width + 0.5 - sdf.abs()).clamp_(0, 1).unsqueeze(1)


def _over_plain(colour: torch.Tensor, image: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """``image`` laid over a plain ``colour`` (n, 3, 1, 1) with opacity ``alpha``, in place on ``image``.

    Same as ``torch.lerp(colour, image, alpha)``, which takes ~6x longer on CPU when its start is broadcast.
    """
    return image.sub_(colour).mul_(alpha).add_(colour)


def _flat(s: _Scene) -> torch.Tensor:
    """Flat colours on a plain background: the drawing that cartoon and edge styles start from."""
    return _over_plain(s.flat_background, s.colour * s.tone, s.mask)


def _background(s: _Scene, banks: _Banks) -> torch.Tensor:
    """c0 blended towards c1 by a linear ramp (gradient), a smooth noise field (noise), or not at all."""
    nz, grid = s.nuisance, banks.grid
    is_gradient, is_noise = _column(nz.bg_kind[:, 0]), _column(nz.bg_kind[:, 1])
    ramp_x = (0.5 * is_gradient * _column(nz.bg_dir[:, 0])) * grid
    ramp_y = (0.5 * is_gradient * _column(nz.bg_dir[:, 1])) * grid[:, None]
    field = banks.smooth.index_select(0, nz.noise_idx[:, 1])
    weight = torch.addcmul(ramp_x + ramp_y + 0.5 * (is_gradient + is_noise), field, 0.3 * is_noise).clamp_(0, 1)
    c0, c1 = nz.bg_c0[:, :, None, None], nz.bg_c1[:, :, None, None]
    return ((c1 - c0) * weight.unsqueeze(1)).add_(c0)


def _sensor_noise(image: torch.Tensor, s: _Scene, banks: _Banks, sigma: float) -> torch.Tensor:
    """Add Gaussian noise of standard deviation ``sigma`` per pixel and channel, then clip, in place."""
    return image.add_(banks.sensor.index_select(0, s.nuisance.noise_idx[:, 0]), alpha=sigma).clamp_(0, 1)


def _lit_scene(s: _Scene, banks: _Banks) -> torch.Tensor:
    """Shaded object (light from the upper left, darker rim) over its background, with a soft drop shadow."""
    size = s.sdf.shape[-1]
    rim = (s.sdf / (0.35 * s.pixels_per_unit)).add_(1).clamp_(0, 1)  # 1 at the outline, 0 deeper than 0.35
    light = s.nuisance.light
    shading = torch.addcmul(s.px * _column(light[:, 0]), s.py, _column(light[:, 1])).add_(1).sub_(rim, alpha=0.25)
    lit = s.colour * (s.tone * shading.unsqueeze(1))
    offset = max(1, size // 16)  # the shadow falls down and right: 40% darker, with a soft 4 px edge
    behind = F.pad(s.sdf, (offset, 0, offset, 0), value=1e3)[:, :size, :size]
    lightness = (behind * 0.1).add_(0.8).clamp_(0.6, 1).unsqueeze(1)
    return _background(s, banks).mul_(lightness).lerp_(lit, s.mask)


def _photo(s: _Scene, banks: _Banks) -> torch.Tensor:
    """The lit scene with mild sensor noise: the training distribution."""
    return _sensor_noise(_lit_scene(s, banks), s, banks, 0.03)


def _sketch(s: _Scene, banks: _Banks) -> torch.Tensor:
    """Grey pencil on paper: a wobbly outline, hatching on the texture's dark parts, no colour."""
    wobble = banks.smooth.index_select(0, s.nuisance.noise_idx[:, 2])
    stroke = _band(torch.addcmul(s.sdf, wobble, 0.04 * s.pixels_per_unit), 0.45)  # a hand-drawn wobble, to scale
    hatching = (1 - s.tone) * (s.mask * banks.hatch * (0.6 / (1 - _TONE)))
    ink = torch.maximum(stroke, hatching)
    paper = 0.95 + 0.02 * wobble.unsqueeze(1)
    return (paper * (1 - 0.8 * ink)).clamp_(0, 1).expand(-1, 3, -1, -1)


def _edge(s: _Scene, banks: _Banks) -> torch.Tensor:
    """White edges on black: the thresholded colour gradient (central differences) of the flat drawing."""
    padded = F.pad(_flat(s), (1, 1, 1, 1), mode="replicate")
    gx = padded[..., 1:-1, 2:] - padded[..., 1:-1, :-2]
    gy = padded[..., 2:, 1:-1] - padded[..., :-2, 1:-1]
    magnitude = gx.square_().add_(gy.square_()).sum(1, keepdim=True).sqrt_().mul_(0.5)
    return ((magnitude - 0.08) / 0.15).clamp_(0, 1).expand(-1, 3, -1, -1)


def _cartoon(s: _Scene, banks: _Banks) -> torch.Tensor:
    """Flat colours, plain background, bold dark outline (ImageNet-R renditions)."""
    return _flat(s).mul_(1 - 0.9 * _band(s.sdf, 0.8))


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur as weighted sums of shifted views (conv2d is ~10x slower on tiny CPU images)."""
    radius = max(1, round(2 * sigma))
    taps = torch.exp(-torch.arange(-radius, radius + 1.0) ** 2 / (2 * sigma**2))
    taps = (taps / taps.sum()).tolist()
    for dim, pad in ((-1, (radius, radius, 0, 0)), (-2, (0, 0, radius, radius))):
        padded, size = F.pad(x, pad, mode="replicate"), x.shape[dim]
        x = padded.narrow(dim, 0, size) * taps[0]
        for k, w in enumerate(taps[1:], 1):
            x.add_(padded.narrow(dim, k, size), alpha=w)
    return x


def _noisy(s: _Scene, banks: _Banks) -> torch.Tensor:
    """The lit scene defocused, with strong sensor noise (a corruption shift)."""
    return _sensor_noise(_blur(_lit_scene(s, banks), sigma=s.sdf.shape[-1] / 48), s, banks, 0.1)


STYLE_RENDERERS: dict[str, Callable[[_Scene, _Banks], torch.Tensor]] = {
    "photo": _photo, "sketch": _sketch, "edge": _edge, "cartoon": _cartoon, "noisy": _noisy}


def _runs(codes: torch.Tensor) -> list[tuple[int, slice]]:
    """(code, slice) for each run of equal codes in a sorted batch."""
    values, counts = torch.unique_consecutive(codes, return_counts=True)
    ends = torch.cumsum(counts, 0).tolist()
    return [(v, slice(e - c, e)) for v, c, e in zip(values.tolist(), counts.tolist(), ends)]


def _wave(px: torch.Tensor, py: torch.Tensor, nz: _Nuisance, axis: int) -> torch.Tensor:
    """Triangle wave in [-1, 1] along texture axis 0 or 1 (a cheap stand-in for a sinusoid)."""
    m, phase = nz.texture_map[:, axis], nz.texture_phase[:, axis]
    return (torch.addcmul(px * _column(m[:, 0]), py, _column(m[:, 1])).add_(_column(phase))
            .frac_().sub_(0.5).abs_().mul_(4).sub_(1))


def _texture(name: str, px: torch.Tensor, py: torch.Tensor, nz: _Nuisance) -> torch.Tensor:
    """Tone map (n, 1, H, W): 1 on the object colour, _TONE on the texture's dark parts."""
    if name == "solid":
        return torch.ones_like(px).unsqueeze(1)
    pattern = _wave(px, py, nz, 0)  # stripes: the sign of one wave
    if name == "checker":
        pattern.mul_(_wave(px, py, nz, 1))
    elif name == "dots":  # dark where both waves peak
        pattern.add_(_wave(px, py, nz, 1)).mul_(-0.5).add_(0.55)
    # anti-aliased threshold at 0: _TONE + (1 - _TONE) * clamp(3 * pattern + 0.5, 0, 1)
    return pattern.mul_(3 * (1 - _TONE)).add_(_TONE + (1 - _TONE) * 0.5).clamp_(_TONE, 1).unsqueeze(1)


def _geometry(lat: dict[str, torch.Tensor], grid: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Object coordinates ``px, py`` (y up) of every pixel, the signed distance in pixels, and
    pixels per object unit, for a batch sorted by shape (each shape's SDF runs on its slice)."""
    radians = torch.deg2rad(lat["angle"])
    cos, sin = _column(torch.cos(radians) / lat["scale"]), _column(torch.sin(radians) / lat["scale"])
    dx = grid[None, None, :] - _column(lat["x"])  # (n, 1, W)
    dy = grid[None, :, None] - _column(lat["y"])  # (n, H, 1)
    px, py = dx * cos + dy * sin, dx * sin - dy * cos
    sdf = torch.empty_like(px)
    for code, run in _runs(lat["shape"]):
        sdf[run] = SDF[SHAPES[code]](px[run], py[run])
    pixels_per_unit = _column(lat["scale"] * (grid.numel() / 2))
    return px, py, sdf.mul_(pixels_per_unit), pixels_per_unit


def _coverage(sdf: torch.Tensor) -> torch.Tensor:
    """Anti-aliased object coverage (n, 1, H, W): the fraction of each pixel inside the outline."""
    return (0.5 - sdf).clamp_(0, 1).unsqueeze(1)


def _scene(lat: dict[str, torch.Tensor], grid: torch.Tensor) -> _Scene:
    """The maps of a batch sorted by texture and shape (each texture runs on its slice)."""
    nz = _Nuisance(*(lat[field] for field in _Nuisance._fields))
    px, py, sdf, pixels_per_unit = _geometry(lat, grid)
    tone = torch.empty_like(sdf).unsqueeze(1)
    for code, run in _runs(lat["texture"]):
        tone[run] = _texture(TEXTURES[code], px[run], py[run], nz.rows(run))
    return _Scene(px=px, py=py, sdf=sdf, pixels_per_unit=pixels_per_unit, mask=_coverage(sdf), tone=tone,
                  colour=lat["colour_rgb"][:, :, None, None], nuisance=nz)


def _render_chunk(lat: dict[str, torch.Tensor], banks: _Banks) -> torch.Tensor:
    scene = _scene(lat, banks.grid)
    parts = [STYLE_RENDERERS[STYLES[code]](scene.rows(run), banks) for code, run in _runs(lat["style"])]
    return parts[0] if len(parts) == 1 else torch.cat(parts)


@contextmanager
def _one_thread(device: torch.device) -> Iterator[None]:
    """Run CPU ops single-threaded, restoring the thread count after.

    An op on a cache-sized chunk takes ~0.1 ms: too short to split across threads, whose
    wake-ups then cost more than they save (on a 2-core virtual machine, 20x more). Chunks in
    parallel Python threads fare no better (measured: slower than one thread), so one core it is.
    """
    if device.type != "cpu":
        yield
        return
    with num_threads(1):
        yield


def _columns(latents: pd.DataFrame) -> dict[str, torch.Tensor]:
    """The latents a renderer reads, as CPU tensors (colours as RGB)."""
    columns = {c: torch.tensor(latents[c].to_numpy()) for c in ("shape", "style", "texture")}
    columns |= {c: torch.tensor(latents[c].to_numpy(), dtype=torch.float32) for c in ("x", "y", "scale", "angle")}
    columns["colour_rgb"] = torch.tensor(list(COLOURS.values()))[torch.tensor(latents["colour"].to_numpy())]
    return columns


def _in_chunks(per_image: dict[str, torch.Tensor], out: torch.Tensor, draw: Callable, chunk_size: int,
               progress: bool) -> torch.Tensor:
    """Fill ``out`` with ``draw(rows)`` chunk by chunk, images sorted by (style, texture, shape).

    Sorting makes each chunk run only a few code paths; sorting once, up front, makes each
    chunk's per-image inputs a slice (a view) rather than a gather.
    """
    keys = [per_image[k].numpy() for k in ("shape", "texture", "style")]  # lexsort: last key first
    order = torch.from_numpy(np.lexsort(keys)).to(out.device)
    rows = {k: v.to(out.device).index_select(0, order) for k, v in per_image.items()}
    with _one_thread(out.device):
        for start in progress_bar(range(0, len(order), chunk_size), desc="rendering", unit="chunk",
                                  disable=not progress):
            run = slice(start, start + chunk_size)
            out.index_copy_(0, order[run], draw({k: v[run] for k, v in rows.items()}))
    return out


def _default_chunk(device: torch.device) -> int:
    return 256 if device.type == "cpu" else 16384


def render(latents: pd.DataFrame, image_size: int = 32, seed: int = 0, device: torch.device | str = "cpu",
           progress: bool = False, chunk_size: int | None = None) -> torch.Tensor:
    """Images ``(N, 3, H, W)`` in [0, 1] for a latents table (:func:`sample_latents`, or one made by hand).

    Images are rendered in chunks sorted by (style, texture, shape), so a chunk runs a few
    vectorized code paths on maps small enough to stay in cache (``chunk_size`` defaults to 256
    images on CPU, 16384 on GPU); ``seed`` fixes the nuisances (texture phase, light, background
    colours, noise). The result does not depend on the chunk size.
    """
    device = torch.device(device)
    banks = _banks(image_size, seed, device)
    images = torch.empty(len(latents), 3, image_size, image_size, device=device)
    per_image = _columns(latents) | _draw_nuisance(latents, seed)._asdict()
    return _in_chunks(per_image, images, lambda lat: _render_chunk(lat, banks), chunk_size or _default_chunk(device),
                      progress)


def object_masks(latents: pd.DataFrame, image_size: int = 32, device: torch.device | str = "cpu") -> torch.Tensor:
    """Where each image's object is, whatever its style: anti-aliased coverage ``(N, 1, H, W)``.

    For analyses that need the foreground (e.g. background-only pixel statistics) and for tests.
    """
    device = torch.device(device)
    grid = _grid(image_size, device)
    masks = torch.empty(len(latents), 1, image_size, image_size, device=device)
    return _in_chunks(_columns(latents), masks, lambda lat: _coverage(_geometry(lat, grid)[2]), _default_chunk(device),
                      progress=False)


class ShapesData(NamedTuple):
    images: torch.Tensor  # (N, 3, H, W) in [0, 1]
    latents: pd.DataFrame  # attribute codes, label, geometry (see sample_latents)

    @property
    def labels(self) -> torch.Tensor:
        """The class of every image (index into the spec's ``class_names``)."""
        return torch.tensor(self.latents["label"].to_numpy())


def make_shapes(spec: ShapesSpec, device: torch.device | str = "cpu", progress: bool = False) -> ShapesData:
    """The data set a spec describes: same spec, identical images and latents."""
    latents = sample_latents(spec)
    return ShapesData(render(latents, spec.image_size, spec.seed, device, progress), latents)


def benchmark_renderer(n: int = 20_000, image_size: int = 32, styles: Sequence[str] = STYLES,
                       device: torch.device | str = "cpu", repeats: int = 3) -> dict:
    """Rendering throughput for ``python -m clipbook bench``: the best of ``repeats`` timed renders
    (latents drawn beforehand), the run least disturbed by other processes. ``images_per_cpu_s``
    divides by the CPU time the process used instead, which other processes do not inflate."""
    device = torch.device(device)
    latents = sample_latents(ShapesSpec(n=n, image_size=image_size, styles=tuple(styles)))
    render(latents[:1024], image_size, device=device)  # warm-up: allocator, kernels
    runs = []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        render(latents, image_size, device=device)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        runs.append((time.perf_counter() - wall, time.process_time() - cpu))
    wall, cpu = min(runs)
    return {"images": n, "image_size": image_size, "styles": list(styles), "device": str(device),
            "threads": torch.get_num_threads(), "seconds": round(wall, 3), "images_per_s": round(n / wall),
            "images_per_cpu_s": round(n / cpu)}
