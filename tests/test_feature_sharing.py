"""Chapter 2: the detail world gives the statistics it is asked for, and the experiment reads
the right cells."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest
import torch

from clipbook import plots
from clipbook.data.details import DetailWorld, class_prompts, sample_details
from clipbook.evaluate.readout import own_class_vote
from clipbook.experiments import feature_sharing as fs
from clipbook.training.loop import TrainConfig

N = 20000


def _close(rate: float, p: float, n: int) -> bool:
    """Within 4 binomial standard errors."""
    return abs(rate - p) < 4 * (p * (1 - p) / n) ** 0.5 + 1e-3


def _presence_rates(batch, k: int) -> tuple[float, float]:
    """P(attribute j present | class j) and P(attribute j present | class != j), pooled over j."""
    own = torch.nn.functional.one_hot(batch.y, k).bool()
    return batch.b[own].mean().item(), batch.b[~own].mean().item()


def _text_latents(batch):
    """Undo the isometric caption embedding (text noise is small) to read what a caption says."""
    return torch.bmm(batch.t, batch.text_embedding)


@pytest.mark.parametrize("split,own,shared", [("train", 0.8, 0.3), ("id", 0.8, 0.3), ("ood", 0.4, 0.4)])
def test_attribute_presence_follows_p_spurious_and_share_prob(split, own, shared):
    world = DetailWorld(p_spurious=0.8, share_prob=0.3, p_spurious_test=0.4, share_prob_test=0.4)
    batch = sample_details([world], [0], N, split)
    rate_own, rate_shared = _presence_rates(batch, world.n_classes)
    assert _close(rate_own, own, N // world.n_classes)
    assert _close(rate_shared, shared, N)


def test_attribute_is_correlated_with_its_class_in_training_and_not_under_the_shift():
    world = DetailWorld(p_spurious=1.0, share_prob=0.2)
    for split, correlated in (("train", True), ("ood", False)):
        batch = sample_details([world], [1], N, split)
        onehot = torch.nn.functional.one_hot(batch.y[0], world.n_classes).float()
        corr = torch.corrcoef(torch.stack([onehot[:, 0], batch.b[0][:, 0]]))[0, 1].item()
        assert (corr > 0.5) if correlated else (abs(corr) < 0.05), (split, corr)


def test_captions_mention_a_present_attribute_with_annotate_prob():
    world = DetailWorld(share_prob=0.5, annotate_prob=0.3, text_noise=0.0)
    batch = sample_details([world], [0], N, "train")
    assert torch.all(batch.mentioned <= batch.b)
    assert _close(batch.mentioned[batch.b.bool()].mean().item(), 0.3, int(batch.b.sum()))
    z_text = _text_latents(batch)[0]
    attr_text = z_text[:, world.attributes]
    assert torch.allclose(attr_text[batch.mentioned[0] == 0], torch.zeros(()), atol=1e-4)
    assert attr_text[batch.mentioned[0] == 1].mean().item() == pytest.approx(world.attr_mean, abs=0.02)


def test_caption_kinds_change_the_text_and_never_the_images():
    base = DetailWorld(share_prob=0.2, annotate_prob=0.0, text_noise=0.0)
    kinds = [base, DetailWorld(share_prob=0.2, annotate_prob=0.0, text_noise=0.0, core_details=True),
             DetailWorld(share_prob=0.2, annotate_prob=0.0, text_noise=0.0, background_details=True)]
    batch = sample_details(kinds, [0], 2000, "train")
    assert torch.equal(batch.x[0], batch.x[1]) and torch.equal(batch.x[0], batch.x[2])
    z = _text_latents(batch)
    y = batch.y[0]
    class_only = z[0][:, base.core]
    torch.testing.assert_close(class_only, base.core_mean * torch.eye(base.n_classes)[y], atol=1e-4, rtol=0)
    assert (z[1][:, base.core] - class_only).std() > 0.5  # core details: the within-class variation
    assert z[0][:, base.background].abs().max() < 1e-4 and z[2][:, base.background].std() > 0.5


def test_more_sharing_only_adds_attributes_common_random_numbers():
    worlds = [DetailWorld(share_prob=s) for s in (0.1, 0.3)]
    batch = sample_details(worlds, [0, 1], 1000, "train")
    assert torch.all(batch.b[0] <= batch.b[2]) and torch.all(batch.b[1] <= batch.b[3])
    assert torch.equal(batch.y[0], batch.y[2]) and not torch.equal(batch.y[0], batch.y[1])
    ood = sample_details(worlds, [0], 1000, "ood")
    assert torch.equal(ood.x[0], ood.x[1])  # the shifted test set does not depend on share_prob


def test_prompts_are_the_class_caption_or_the_mean_class_caption():
    world = DetailWorld(share_prob=0.2, text_noise=0.0)
    batch = sample_details([world], [0], 4000, "train")
    core = torch.bmm(class_prompts(batch, world, "class_core"), batch.text_embedding)[0]
    expected = torch.zeros(world.n_classes, world.text_latent_dim)
    expected[:, world.core] = torch.eye(world.n_classes)
    torch.testing.assert_close(core, expected, atol=1e-5, rtol=0)
    mean = class_prompts(batch, world, "mean_caption")[0]
    torch.testing.assert_close(mean[2], batch.t[0][batch.y[0] == 2].mean(dim=0))
    with pytest.raises(ValueError, match="prompt kind"):
        class_prompts(batch, world, "ensemble")


def test_invalid_worlds_are_rejected():
    with pytest.raises(ValueError, match="probability"):
        DetailWorld(share_prob=1.2)
    with pytest.raises(ValueError, match="share"):
        sample_details([DetailWorld(), DetailWorld(n_background=2)], [0], 10, "train")


def test_own_class_vote_has_the_sign_of_the_weight():
    embedding = torch.eye(6).unsqueeze(0)  # latents are the inputs
    for sign in (1.0, -1.0):
        classifier = torch.zeros(1, 3, 6)
        classifier[0, :, 3:] = sign * torch.eye(3)
        assert sign * own_class_vote(classifier, embedding, slice(3, 6)).item() > 0
        assert own_class_vote(classifier, embedding, slice(0, 3)).item() == 0


TINY = dict(n_train=256, n_test=256, embed_dim=8, config=TrainConfig(steps=20, batch_size=64),
            device=torch.device("cpu"))


@pytest.fixture(scope="module")
def tiny_results():
    return fs.run_sweeps(DetailWorld(), [0.0, 0.3], [0.0, 1.0], [0.3], [0, 1], varied_p_spurious=0.9, **TINY)


def test_sweeps_have_one_row_per_model_and_prompt(tiny_results):
    r = tiny_results
    sharing_mmcl = (2 * 2 + 2) * 2  # (annotation levels x shares + varied curve) x seeds
    captions = len(fs.CAPTIONS) * 1 * 2
    assert len(r) == 2 * (sharing_mmcl + captions) + 2 * 2  # two prompt designs, plus SL
    assert set(fs.sharing_results(r).method) == {fs.MMCL_ANNOTATED, fs.MMCL_PLAIN, fs.SL,
                                                 fs.sharing_method(1.0, 0.9, 1.0)}
    for column in ("id_accuracy", "ood_accuracy", "detail_share"):
        assert r[column].between(0, 1).all()
    assert r.detail_vote.between(-1, 1).all()
    again = fs.run_sweeps(DetailWorld(), [0.0, 0.3], [0.0, 1.0], [0.3], [0, 1], varied_p_spurious=0.9, **TINY)
    pd.testing.assert_frame_equal(r, again)


def test_a_setting_in_both_sweeps_is_one_trained_model(tiny_results):
    r = tiny_results[tiny_results.prompt == "class_core"]
    plain = r[(r.method == fs.MMCL_PLAIN) & (r.share_prob == 0.3)].ood_accuracy.to_numpy()
    class_only = r[(r.caption == fs.CLASS_ONLY) & (r.share_prob == 0.3)].ood_accuracy.to_numpy()
    assert (plain == class_only).all()


def test_claim_statistics_read_the_right_cells(tiny_results):
    stats = fs.claim_statistics(tiny_results)
    s = fs.sharing_results(tiny_results).pivot_table(index=["method", "seed"], columns="share_prob",
                                                     values="ood_accuracy")
    gain = (s[0.3] - s[0.0]).groupby(level="method").mean()
    assert stats["sharing_vs_sl"].mean == pytest.approx(gain[fs.MMCL_ANNOTATED] - gain[fs.SL])
    assert stats["sharing_vs_plain"].mean == pytest.approx(gain[fs.MMCL_ANNOTATED] - gain[fs.MMCL_PLAIN])
    c = tiny_results[(tiny_results.experiment == "captions") & (tiny_results.prompt == "class_core")]
    by_caption = c.groupby("caption").ood_accuracy.mean()
    assert stats["core"].mean == pytest.approx(by_caption["+ core details"] - by_caption[fs.CLASS_ONLY])
    assert set(stats) >= {"detail_share_trend", "spurious", "background", "all"}


def test_supervised_learning_takes_the_over_represented_attribute():
    """Sanity check of the world: with the attribute always present in its class and never
    elsewhere, SL leans on it and loses accuracy when the shift decorrelates it."""
    config = TrainConfig(steps=150, batch_size=128, lr=0.02)
    r = fs.run_sweeps(DetailWorld(), [0.0], [0.0], [0.0], [0], n_train=1024, n_test=1024, embed_dim=8,
                      config=config, device=torch.device("cpu"))
    sl = r[r.method == fs.SL].iloc[0]
    assert sl.detail_share > 0.5
    assert sl.id_accuracy - sl.ood_accuracy > 0.3


def test_points_with_ci_draws_one_series_per_hue():
    df = pd.DataFrame({"kind": ["a", "b"] * 6, "share": [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1],
                       "gain": [0.1, -0.1, 0.2, 0.0, 0.15, -0.05, 0.3, 0.1, 0.2, 0.2, 0.25, 0.15]})
    fig, ax = plt.subplots()
    plots.points_with_ci(df, "kind", "gain", "share", ax=ax)
    assert len(ax.containers) == 2
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]
    plt.close(fig)


def test_claims_need_both_annotation_levels(tiny_results):
    without_plain = tiny_results[tiny_results.method != fs.MMCL_PLAIN]
    with pytest.raises(ValueError, match="annotate_prob 0 and 1"):
        fs.claim_statistics(without_plain)
