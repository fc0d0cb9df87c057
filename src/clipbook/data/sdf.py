"""Signed distance functions of the shapes world's ten shapes (after Inigo Quilez's 2D
distance functions), evaluated on batched coordinate grids by :mod:`clipbook.data.render`.

Each takes local object coordinates (x right, y up; the object fills radius ~1) and returns the
signed distance to the outline: negative inside. Branches are folds and reflections written as
arithmetic (clamp, abs, sign), never torch.where or hypot, which cost 5-10x more per pixel on CPU.
"""

from __future__ import annotations

import math
from typing import Callable

import torch


def _length(x, y):
    return torch.addcmul(x * x, y, y).sqrt_()


def _box(x, y, bx: float, by: float):
    dx, dy = x.abs() - bx, y.abs() - by
    return _length(dx.clamp(min=0), dy.clamp(min=0)) + torch.maximum(dx, dy).clamp_(max=0)


def _circle(x, y):
    return _length(x, y) - 0.95


def _square(x, y):
    return _box(x, y, 0.72, 0.72)


def _reflect(x, y, nx: float, ny: float):
    """Mirror the points on the positive side of the line through 0 with unit normal (nx, ny)."""
    d = 2 * (nx * x + ny * y).clamp_(min=0)
    return x - d * nx, y - d * ny


def _triangle(x, y, r: float = 0.88):
    """Equilateral, pointing up, centroid at the origin; ``r`` is half the side."""
    x, y = _reflect(x.abs() - r, y + r / math.sqrt(3), 0.5, math.sqrt(3) / 2)
    x = x - x.clamp(-2 * r, 0)
    return -_length(x, y) * y.sign()


def _diamond(x, y, bx: float = 0.72, by: float = 1.0):
    x, y = x.abs(), y.abs()
    h = (((bx - 2 * x) * bx - (by - 2 * y) * by) / (bx * bx + by * by)).clamp_(-1, 1)
    d = _length(x - 0.5 * bx * (1 - h), y - 0.5 * by * (1 + h))
    return d * (x * by + y * bx - bx * by).sign_()


def _cross(x, y):
    return torch.minimum(_box(x, y, 1.0, 0.3), _box(x, y, 0.3, 1.0))


def _ring(x, y):
    return (_length(x, y) - 0.75).abs_() - 0.2


def _star(x, y, r: float = 1.0, rf: float = 0.45):
    """Five-pointed star: fold the plane into one spike's wedge, then a segment distance."""
    kx, ky = 0.809016994375, -0.587785252292
    x, y = _reflect(x.abs(), y, kx, ky)
    x, y = _reflect(x, y, -kx, ky)
    x, y = x.abs(), y - r
    bax, bay = -rf * ky, rf * kx - 1
    h = ((x * bax + y * bay) / (bax * bax + bay * bay)).clamp_(0, r)
    return _length(x - bax * h, y - bay * h) * (y * bax - x * bay).sign_()


def _ellipse(x, y, a: float = 1.0, b: float = 0.55):
    """First-order distance (value over gradient norm): exact on the outline, where it matters."""
    k0 = _length(x / a, y / b)
    k1 = _length(x / (a * a), y / (b * b)).clamp_(min=1e-6)
    return k0 * (k0 - 1) / k1


def _heart(x, y, scale: float = 1.48):
    """Two round lobes over a point; the unit heart (tip at 0, top near 1.1) is centred and scaled."""
    x, y = x.abs() / scale, y / scale + 0.55
    lobe = _length(x - 0.25, y - 0.75) - math.sqrt(2) / 4
    m = 0.5 * (x + y).clamp_(min=0)
    point = torch.minimum(_length(x, y - 1), _length(x - m, y - m)) * (x - y).sign_()
    upper = (x + y - 1).sign_().add_(1).mul_(0.5)  # 1 above the line x + y = 1, where the lobes are
    return torch.lerp(point, lobe, upper) * scale


def _hexagon(x, y, r: float = 0.86):
    """Regular hexagon with inradius ``r``, flat top and bottom."""
    x, y = _reflect(x.abs(), y.abs(), math.sqrt(3) / 2, -0.5)
    half_side = r / math.sqrt(3)
    x, y = x - x.clamp(-half_side, half_side), y - r
    return _length(x, y) * y.sign()


SDF: dict[str, Callable] = {
    "circle": _circle, "square": _square, "triangle": _triangle, "diamond": _diamond, "cross": _cross,
    "ring": _ring, "star": _star, "ellipse": _ellipse, "heart": _heart, "hexagon": _hexagon,
}
