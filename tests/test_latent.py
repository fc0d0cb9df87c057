"""The latent world gives the statistics it is asked for."""

import pytest
import torch

from clipbook.data.latent import SpuriousWorld, random_embedding, sample_spurious


def _latents(batch, world):
    """Undo the isometric embedding (noise is small) to read the latent features back."""
    return torch.bmm(batch.x, batch.image_embedding)


def test_embedding_is_isometric():
    a = random_embedding(32, 12, torch.Generator().manual_seed(0))
    torch.testing.assert_close(a.T @ a, torch.eye(12), atol=1e-5, rtol=0)


@pytest.mark.parametrize("split,p", [("train", 0.9), ("id", 0.9), ("ood", 0.2)])
def test_spurious_agreement_follows_the_split(split, p):
    world = SpuriousWorld(p_spurious=0.9, p_spurious_test=0.2)
    batch = sample_spurious([world], [0, 1], 20000, split)
    agree = (batch.a == batch.y).float().mean().item()
    assert abs(agree - p) < 4 * (p * (1 - p) / 40000) ** 0.5 + 1e-3


def test_core_feature_has_requested_class_mean_and_spread():
    world = SpuriousWorld(core_mean=1.5, core_std=2.0, image_noise=0.0)
    batch = sample_spurious([world], [3], 40000, "train")
    z = _latents(batch, world)[0]
    y = batch.y[0]
    core_of_own_class = z[torch.arange(len(y)), y]  # the core coordinate of the sample's own class
    assert core_of_own_class.mean().item() == pytest.approx(1.5, abs=0.05)
    within_class = z[:, world.core] - 1.5 * torch.eye(2)[y]
    assert within_class.std().item() == pytest.approx(2.0, rel=0.03)
    spur = z[:, world.spurious] - world.spurious_mean * torch.eye(2)[batch.a[0]]
    assert spur.std().item() == pytest.approx(world.spurious_std, rel=0.05)


def test_class_only_captions_are_one_text_per_class():
    batch = sample_spurious([SpuriousWorld(captions="class_only")], [0], 500, "train")
    t, y = batch.t[0], batch.y[0]
    for k in range(2):
        assert torch.allclose(t[y == k], t[y == k][0].expand_as(t[y == k]))
    full = sample_spurious([SpuriousWorld()], [0], 500, "train")
    assert full.t[0][full.y[0] == 0].std(dim=0).mean() > 0.1


def test_common_random_numbers_across_worlds_and_captions():
    worlds = [SpuriousWorld(core_std=s) for s in (0.5, 2.0)]
    batch = sample_spurious(worlds, [0, 1], 100, "train")
    assert torch.equal(batch.y[0], batch.y[2]) and torch.equal(batch.y[1], batch.y[3])
    assert not torch.equal(batch.y[0], batch.y[1])
    class_only = sample_spurious([SpuriousWorld(core_std=0.5, captions="class_only")], [0], 100, "train")
    assert torch.equal(class_only.x[0], batch.x[0])


def test_annotated_spurious_feature_enters_the_caption():
    plain = sample_spurious([SpuriousWorld()], [0], 2000, "train")
    annotated = sample_spurious([SpuriousWorld(annotate_spurious=True)], [0], 2000, "train")
    assert not torch.allclose(plain.t, annotated.t)
    assert torch.equal(plain.x, annotated.x)


def test_invalid_worlds_are_rejected():
    with pytest.raises(ValueError, match="probability"):
        SpuriousWorld(p_spurious=1.5)
    with pytest.raises(ValueError, match="share"):
        sample_spurious([SpuriousWorld(), SpuriousWorld(n_noise=3)], [0], 10, "train")
    with pytest.raises(ValueError, match="smaller than the latent"):
        sample_spurious([SpuriousWorld(n_noise=40)], [0], 10, "train")
