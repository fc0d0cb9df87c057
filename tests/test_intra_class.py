"""Chapter 1's experiment as library code: shapes, ranges and determinism of a tiny sweep."""

import torch

from clipbook.data.latent import SpuriousWorld
from clipbook.experiments import intra_class
from clipbook.training.loop import TrainConfig

TINY = dict(n_train=256, n_test=256, embed_dim=4, config=TrainConfig(steps=20, batch_size=64),
            device=torch.device("cpu"))


def test_the_two_sweeps_share_their_corner_world():
    worlds = intra_class.sweep_worlds(SpuriousWorld(spurious_std=0.1), [0.5, 2.0], [0.1, 1.0])
    assert [(w.core_std, w.spurious_std) for w in worlds] == [(0.5, 0.1), (2.0, 0.1), (2.0, 1.0)]


def test_sweep_has_one_row_per_method_setting_and_seed():
    worlds = intra_class.sweep_worlds(SpuriousWorld(), [0.5, 2.0], [0.1, 1.0])
    results = intra_class.run_sweep(worlds, [0, 1, 2], **TINY)
    assert len(results) == 4 * 3 * 3
    assert set(results.method) == set(intra_class.METHODS)
    assert sorted(set(zip(results.core_std, results.spurious_std))) == [(0.5, 0.1), (2.0, 0.1), (2.0, 1.0)]
    for column in ("id_accuracy", "ood_accuracy", "spurious_share"):
        assert results[column].between(0, 1).all()
    again = intra_class.run_sweep(worlds, [0, 1, 2], **TINY)
    assert results.equals(again)


def test_only_the_caption_arms_differ_in_their_captions():
    """The arm whose captions also carry z_s learns another model than full-caption MMCL."""
    worlds = intra_class.sweep_worlds(SpuriousWorld(), [2.0], [0.1])
    results = intra_class.run_sweep(worlds, [0, 1], **TINY).set_index(["method", "seed"])
    mmcl, spurious = (results.loc[m, "spurious_share"] for m in (intra_class.MMCL, intra_class.MMCL_SPURIOUS))
    assert not mmcl.equals(spurious)
