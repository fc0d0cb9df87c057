"""Chapter 2's image experiment: the captions of each variant, a tiny run, and its claim statistic."""

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import special

from clipbook.data.captions import captions
from clipbook.data.diversity import DiversityWorld
from clipbook.data.render import make_shapes
from clipbook.experiments import feature_sharing_images as fsi
from clipbook.training.loop import TrainConfig


def test_full_captions_describe_details_and_label_only_text_names_the_class():
    world = DiversityWorld(n_train=8)
    latents = make_shapes(world.narrow(0, 8)).latents
    specs = fsi.caption_specs(p_detail=1.0)
    full, label = (captions(latents, specs[v]) for v in (fsi.FULL, fsi.LABEL_ONLY))
    names = [world.class_names[i] for i in latents.label]
    assert all(n in f and n in t for n, f, t in zip(names, full, label))
    assert all("background" in f for f in full) and not any("background" in t for t in label)
    # the same template per image (its own random stream): the label-only text is the full one minus
    # details (and the article, which follows the first word of the noun phrase)
    def words(text):
        return set(text.rstrip(".").split()) - {"a", "an"}

    assert all(words(t) < words(f) for f, t in zip(full, label))


def test_tiny_run_has_a_row_per_variant_seed_and_checkpoint():
    world = DiversityWorld(n_train=64, n_test=32)
    config = TrainConfig(steps=4, batch_size=16, log_every=2)
    sweep = fsi.run_sweep(world, [0, 1], config, device=torch.device("cpu"))
    r = sweep.results
    assert sorted(set(zip(r.variant, r.seed, r.step))) == sorted(
        (v, s, t) for v in (fsi.FULL, fsi.LABEL_ONLY) for s in (0, 1) for t in (2, 4))
    shifts = [f"acc_{s}" for s in world.shift_styles]
    np.testing.assert_allclose(r.ood_accuracy, r[shifts].mean(axis=1))
    assert r[["id_accuracy", *shifts]].stack().between(0, 1).all()


def _checkpoints(variant: str, offset_by_seed: dict[int, float], ids) -> pd.DataFrame:
    return pd.DataFrame([{"variant": variant, "seed": s, "id_accuracy": x,
                          "ood_accuracy": float(special.expit(special.logit(x) + o))}
                         for s, o in offset_by_seed.items() for x in ids])


def test_claim_statistic_compares_the_lines_where_both_variants_reach():
    # full captions span ID 0.2-0.5, label-only 0.3-0.9: both reach 0.3-0.5, compared at 0.4
    full = _checkpoints(fsi.FULL, {0: 0.4, 1: 0.6, 2: 0.5}, (0.2, 0.35, 0.5))
    label = _checkpoints(fsi.LABEL_ONLY, {0: 0.0, 1: 0.1, 2: -0.1}, (0.3, 0.6, 0.9))
    results = pd.concat([full, label]).sample(frac=1, random_state=0)
    assert fsi.common_id_accuracy(results) == pytest.approx(0.4)
    gap = fsi.claim_statistics(results, n_boot=200)["caption_line_gap"]
    # every seed of a line shares its slope (1), so the fit's offset is the mean offset: 0.5 and 0.0
    at = special.logit(0.4)
    assert gap.mean == pytest.approx(special.expit(at + 0.5) - special.expit(at), abs=1e-9)
    assert 0 < gap.lo < gap.mean < gap.hi


def test_claim_statistic_is_undecided_without_common_accuracies():
    results = pd.concat([_checkpoints(fsi.FULL, {0: 0.0, 1: 0.1}, (0.1, 0.2)),
                         _checkpoints(fsi.LABEL_ONLY, {0: 0.0, 1: 0.1}, (0.5, 0.8))])
    assert fsi.claim_statistics(results)["caption_line_gap"].n == 0
