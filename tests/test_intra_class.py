"""Chapter 1's experiment as library code: shapes, ranges and determinism of a tiny sweep."""

import torch

from clipbook.data.latent import SpuriousWorld
from clipbook.experiments import intra_class
from clipbook.training.loop import TrainConfig

TINY = dict(n_train=256, n_test=256, embed_dim=4, config=TrainConfig(steps=20, batch_size=64),
            device=torch.device("cpu"))


def test_sweep_has_one_row_per_method_setting_and_seed():
    results = intra_class.run_sweep(SpuriousWorld(), [0.5, 2.0], [0, 1, 2], **TINY)
    assert len(results) == 3 * 2 * 3
    assert set(results.method) == set(intra_class.METHODS)
    for column in ("id_accuracy", "ood_accuracy", "spurious_share"):
        assert results[column].between(0, 1).all()
    again = intra_class.run_sweep(SpuriousWorld(), [0.5, 2.0], [0, 1, 2], **TINY)
    assert results.equals(again)


def test_claim_statistics_read_the_right_cells():
    results = intra_class.run_sweep(SpuriousWorld(), [0.5, 2.0], [0, 1], **TINY)
    stats = intra_class.claim_statistics(results)
    high = results[results.core_std == 2.0].groupby("method").ood_accuracy.mean()
    assert abs(stats["advantage"].mean - (high[intra_class.MMCL] - high[intra_class.SL])) < 1e-9
    assert set(stats) == {"advantage", "sl_share_trend", "mmcl_share_max", "class_only_advantage", "drop_mmcl", "drop_sl"}
