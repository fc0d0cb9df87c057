"""Spectral tools on matrices whose answers are known."""

import math

import pytest
import torch

from clipbook.evaluate.spectral import (
    condition_number,
    effective_rank,
    paired_cosine,
    singular_values,
)


def _rotation(n: int, seed: int) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64))
    return q


def test_singular_values_are_sorted_and_batched():
    mats = torch.stack([torch.diag(torch.tensor([1.0, 3.0, 2.0])), 2 * torch.eye(3)])
    torch.testing.assert_close(singular_values(mats), torch.tensor([[3.0, 2.0, 1.0], [2.0, 2.0, 2.0]]))


def test_condition_number_of_known_matrices():
    u, v = _rotation(4, 0), _rotation(4, 1)
    spectrum = torch.tensor([8.0, 4.0, 2.0, 0.5], dtype=torch.float64)
    rotated = u @ torch.diag(spectrum) @ v.T  # rotations do not change the spectrum
    mats = torch.stack([rotated, _rotation(4, 2), 5 * _rotation(4, 3)])
    torch.testing.assert_close(condition_number(mats), torch.tensor([16.0, 1.0, 1.0], dtype=torch.float64))


def test_condition_number_of_tall_matrix_and_lost_direction():
    tall = torch.zeros(1, 6, 2)
    tall[0, 0, 0], tall[0, 3, 1] = 10.0, 2.0
    assert condition_number(tall).item() == pytest.approx(5.0)
    rank_one = torch.outer(torch.arange(1.0, 4.0), torch.ones(3)).unsqueeze(0)
    assert condition_number(rank_one.double()).item() > 1e12  # infinite up to rounding


def test_effective_rank_counts_equal_directions():
    mats = torch.stack([torch.eye(5), torch.diag(torch.tensor([1.0, 1.0, 0.0, 0.0, 0.0])),
                        torch.diag(torch.tensor([3.0, 0.0, 0.0, 0.0, 0.0]))])
    torch.testing.assert_close(effective_rank(mats), torch.tensor([5.0, 2.0, 1.0]), atol=1e-4, rtol=0)


def test_effective_rank_of_uneven_spectrum_is_its_entropy():
    s = torch.tensor([3.0, 1.0])
    p = s / s.sum()
    expected = math.exp(-(p * p.log()).sum().item())
    assert effective_rank(torch.diag(s).unsqueeze(0)).item() == pytest.approx(expected, rel=1e-5)
    assert 1.0 < expected < 2.0


def test_paired_cosine_of_aligned_opposite_and_orthogonal_rows():
    a = torch.randn(1, 50, 4, generator=torch.Generator().manual_seed(0))
    batch = torch.cat([a, a])
    torch.testing.assert_close(paired_cosine(batch, torch.cat([3 * a, -a])), torch.tensor([1.0, -1.0]))
    e = torch.eye(2).unsqueeze(0)
    assert paired_cosine(e, e.flip(-1)).item() == pytest.approx(0.0)


def test_paired_cosine_pairs_rows_not_columns():
    # rows (1, 0)-(1, 0) and (0, 1)-(1, 0): cosines 1 and 0, mean 1/2 (pairing columns would give
    # (cos((1, 0), (1, 1)) + 0) / 2 = 0.354)
    a, b = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]]), torch.tensor([[[1.0, 0.0], [1.0, 0.0]]])
    assert paired_cosine(a, b).tolist() == pytest.approx([0.5])
