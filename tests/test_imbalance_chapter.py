"""Chapter 6's world, vocabulary subsampling, and claim statistics on constructed cases."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from clipbook.data.imbalance import ImbalanceWorld, sample
from clipbook.experiments import imbalance as ex
from clipbook.learners.linear import prototype_logits, train_prototype_sl, vocabulary_mask
from clipbook.training.loop import TrainConfig


def test_classes_are_named_by_two_shared_words():
    world = ImbalanceWorld(n_adjectives=3, n_nouns=4)
    names = world.class_names()
    assert names.shape == (12, 3 + 4 + world.n_details)
    assert (names.sum(1) == 2).all()
    assert names[0, 0] == 1 and names[0, 3] == 1 and names[5, 1] == 1 and names[5, 3 + 1] == 1


def test_training_counts_follow_the_profile_and_test_sets_are_balanced():
    world = ImbalanceWorld(n_adjectives=4, n_nouns=5, alpha=1.0)
    train = sample(world, 0, "train", 2000)
    counts = torch.bincount(train.y[0], minlength=20).numpy()
    np.testing.assert_array_equal(counts, world.counts(2000, 0))
    assert sorted(counts)[::-1][0] / sorted(counts)[::-1][9] == pytest.approx(10, rel=0.05)  # rank 1 vs rank 10, r^-1
    test = sample(world, 0, "id", 7)
    assert torch.bincount(test.y[0]).tolist() == [7] * 20
    assert train.t[0, :, :9].sum(1).eq(2).all()  # the name's two words in every caption
    assert train.t[0, :, 9:].sum() == 0  # no detail words unless captions are descriptive


def test_trim_tail_cuts_the_rarest_classes():
    world = ImbalanceWorld(n_adjectives=4, n_nouns=5, trim_tail=4, tail_cap=0)
    counts = world.counts(2000, seed=3)
    assert (counts[world.trimmed(3)] == 0).all()
    assert (np.delete(counts, world.trimmed(3)) > 0).all()
    assert set(np.argsort(ImbalanceWorld(n_adjectives=4, n_nouns=5).counts(2000, 3))[:4]) == set(world.trimmed(3))


def test_vocabulary_mask_keeps_present_classes_and_tops_up_by_weight():
    g = torch.Generator().manual_seed(0)
    labels = torch.tensor([[0, 0, 3], [5, 6, 7]])
    weights = torch.tensor([[1.0] * 10, [1e-9] * 8 + [1.0, 1.0]])
    mask = vocabulary_mask(labels, 10, 5, weights, g)
    assert mask.sum(1).tolist() == [5, 5]
    assert mask[0, [0, 3]].all() and mask[1, [5, 6, 7]].all()
    assert mask[1, [8, 9]].all()  # the only classes with weight
    assert vocabulary_mask(labels, 10, 2, weights, g).sum(1).tolist() == [2, 3]  # all present kept
    assert vocabulary_mask(labels, 10, 10, weights, g).all()


def test_subsampled_loss_ignores_classes_outside_the_vocabulary():
    """With a vocabulary of only the classes present, a class never seen in training gets no
    gradient at all: its prototype stays where it started."""
    world = ImbalanceWorld(n_adjectives=2, n_nouns=3, trim_tail=1, tail_cap=0)
    data = sample(world, 0, "train", 300)
    unseen = int(world.trimmed(0)[0])
    config = TrainConfig(steps=5, batch_size=32, lr=0.1)
    kept = train_prototype_sl(data, 6, 4, config, vocab_size=1)
    full = train_prototype_sl(data, 6, 4, config)
    start = train_prototype_sl(data, 6, 4, TrainConfig(steps=0, batch_size=32, lr=0.1))
    torch.testing.assert_close(kept["prototypes"][0, unseen], start["prototypes"][0, unseen])
    assert not torch.allclose(full["prototypes"][0, unseen], start["prototypes"][0, unseen])
    assert prototype_logits(kept, data.x[:, :3]).shape == (1, 3, 6)


def test_claim_statistics_on_constructed_results():
    rows = [{"method": m, "seed": s, "rho_predictions": v}
            for s, (sl, sub) in enumerate([(0.6, 0.3), (0.5, 0.3), (0.7, 0.4)]) for m, v in (("SL", sl), ("sub", sub))]
    small = pd.DataFrame(rows)
    large = small.assign(rho_predictions=np.where(small.method == "sub", small.rho_predictions + 0.2,
                                                  small.rho_predictions))
    assert ex.gap(small, "rho_predictions", "SL", "sub").mean == pytest.approx(np.mean([0.3, 0.2, 0.3]))
    # effect at the small batch (0.3, 0.2, 0.3) minus at the large one (0.1, 0.0, 0.1): 0.2 each
    fade = ex.subsampling_effect(small, large, "sub")
    assert (fade.mean, fade.lo, fade.hi) == pytest.approx((0.2, 0.2, 0.2))


def test_trimmed_accuracy_averages_the_cut_classes_only():
    world = ImbalanceWorld(n_adjectives=2, n_nouns=2, trim_tail=1)
    cut = int(world.trimmed(0)[0])
    per_class = pd.DataFrame({"method": "m", "seed": 0, "class": range(4),
                              "accuracy": [1.0 if c == cut else 0.0 for c in range(4)]})
    assert ex.trimmed_accuracy(per_class, world).accuracy.tolist() == [1.0]


def test_variants_and_weightings():
    names = [v.name for v in ex.variants([10, 100], ["uniform", "frequency"], 100)]
    assert names == ["CLIP", "SL", "SL, vocabulary 10 (uniform)", "SL, vocabulary 10 (frequency)",
                     "SL, frozen CLIP head", "SL, frozen CLIP head + vocabulary 10"]
    with pytest.raises(ValueError, match="weightings"):
        ex.variants([10], ["log"], 100)
    counts = torch.tensor([[4.0, 1.0]])
    assert ex.sampling_weights(counts, "sqrt").tolist() == [[2.0, 1.0]]


def test_scale_effect_pairs_by_seed_and_reads_the_smallest_data_set_against_all():
    rows = []
    for seed, (clip_all, clip_small, sl_all, sl_small) in enumerate([(0.1, 0.4, 0.5, 0.55), (0.2, 0.4, 0.6, 0.6)]):
        rows += [{"method": "CLIP", "fraction": 1.0, "seed": seed, "rho_accuracy": clip_all},
                 {"method": "CLIP", "fraction": 0.25, "seed": seed, "rho_accuracy": clip_small},
                 {"method": "CLIP", "fraction": 0.5, "seed": seed, "rho_accuracy": 9.0},  # neither end: not read
                 {"method": "SL", "fraction": 1.0, "seed": seed, "rho_accuracy": sl_all},
                 {"method": "SL", "fraction": 0.25, "seed": seed, "rho_accuracy": sl_small},
                 {"method": "SL", "fraction": 0.5, "seed": seed, "rho_accuracy": -9.0}]
    effect = ex.scale_effect(pd.DataFrame(rows))
    assert effect["CLIP"].mean == pytest.approx(0.25)  # (0.3 + 0.2) / 2
    assert effect["SL"].mean == pytest.approx(0.025)
    assert effect["difference"].mean == pytest.approx(0.225)  # (0.25 + 0.2) / 2
    predictions = ex.scale_effect(pd.DataFrame(rows).rename(columns={"rho_accuracy": "rho_predictions"}), "rho_predictions")
    assert predictions["CLIP"].mean == pytest.approx(0.25)


def test_open_world_classes_train_but_leave_the_tested_classes_as_they_were():
    closed = ImbalanceWorld(n_adjectives=3, n_nouns=4)
    opened = ImbalanceWorld(n_adjectives=3, n_nouns=4, open_adjectives=2)
    assert (opened.n_classes, opened.n_trained_classes, opened.text_dim) == (12, 20, 3 + 2 + 4 + closed.n_details)
    train = sample(opened, 0, "train", 2000)
    assert train.y.max() == 19 and torch.bincount(train.y[0], minlength=20).tolist() == opened.counts(2000, 0).tolist()
    assert torch.bincount(sample(opened, 0, "id", 3).y[0]).tolist() == [3] * 12  # tested classes only
    # the open-world adjectives get their own words: class 12 is adjective 3 with noun 0
    assert opened.class_words()[12].tolist() == [3, 5] and opened.class_names().shape == (12, opened.text_dim)
    # the same seed gives the tested classes the same images with and without open-world classes
    test_closed, test_open = sample(closed, 4, "id", 5), sample(opened, 4, "id", 5)
    assert torch.equal(test_closed.x, test_open.x) and torch.equal(test_closed.y, test_open.y)


def test_open_world_sweep_scores_among_the_tested_classes_only():
    world = ImbalanceWorld(n_adjectives=2, n_nouns=3, open_adjectives=1)
    config = TrainConfig(steps=5, batch_size=16)
    sweep = ex.run_sweep(world, [0, 1], [ex.Variant(ex.CLIP), ex.Variant(ex.SL)], n_train=200, n_test=4,
                         embed_dim=4, config=config)
    assert set(sweep.history["class"]) == set(range(6)) and len(sweep.results) == 4
    with pytest.raises(ValueError, match="frozen CLIP head"):
        ex.run_sweep(world, [0], [ex.Variant("SL, frozen CLIP head", frozen_head=True)], n_train=200, n_test=4,
                     embed_dim=4, config=config)


def test_paired_change_is_before_minus_after_per_method_and_seed():
    before = pd.DataFrame({"method": ["CLIP", "CLIP", "SL", "SL", "only before"], "seed": [0, 1, 0, 1, 0],
                           "rho_predictions": [0.5, 0.3, 0.6, 0.6, 0.9]})
    after = pd.DataFrame({"method": ["CLIP", "CLIP", "SL", "SL"], "seed": [1, 0, 0, 1],
                          "rho_predictions": [0.2, 0.1, 0.7, 0.5]})
    change = ex.paired_change(before, after)
    assert set(change) == {"CLIP", "SL"}
    assert change["CLIP"].mean == pytest.approx(0.25)  # seed 0: 0.5 - 0.1, seed 1: 0.3 - 0.2
    assert change["SL"].mean == pytest.approx(0.0) and change["SL"].n == 2  # -0.1 and +0.1
    only_after = pd.concat([after, pd.DataFrame({"method": ["only after"], "seed": [0], "rho_predictions": [0.4]})])
    assert set(ex.paired_change(before, only_after)) == {"CLIP", "SL"}  # a method run in one sweep is left out


def _one_hot_logits(predicted, n_classes):
    return torch.nn.functional.one_hot(torch.as_tensor(predicted), n_classes).float()[None]


def test_scores_of_a_worked_confusion():
    # four classes, two test images each; per-class accuracy 1, 1/2, 1/2, 0 and prediction counts
    # 6, 1, 1, 0 against training counts 40, 30, 20, 10: both rank vectors are (4, 2.5, 2.5, 1)
    # against (4, 3, 2, 1), Spearman rho 4.5 / sqrt(5 * 4.5) = 3 / sqrt(10)
    labels = torch.tensor([[0, 0, 1, 1, 2, 2, 3, 3]])
    logits = _one_hot_logits([0, 0, 1, 0, 2, 0, 0, 0], 4)
    counts = torch.tensor([[40, 30, 20, 10]])
    (row,) = ex.scores(logits, labels, counts, tail_share=0.25)  # the tail: the rarest class, 3
    assert {k: v for k, v in row.items() if k not in ("per_class", "counts")} == pytest.approx(
        {"accuracy": 0.5, "tail_accuracy": 0.0, "rho_accuracy": 3 / 10 ** 0.5, "rho_predictions": 3 / 10 ** 0.5})
    assert row["per_class"].tolist() == [1.0, 0.5, 0.5, 0.0] and row["counts"].tolist() == [40, 30, 20, 10]
    assert ex.scores(logits, labels, counts, tail_share=0.5)[0]["tail_accuracy"] == 0.25  # classes 3 and 2


def test_the_tail_breaks_ties_in_class_order():
    # 120 classes in three tied blocks of 40 (counts 3, 1, 2): the ten rarest are the first ten of the
    # count-1 block, classes 40-49, the only ones predicted right
    counts = torch.tensor(np.repeat([3, 1, 2], 40))[None]
    predicted = [k if 40 <= k < 50 else (k + 1) % 120 for k in range(120)]
    (row,) = ex.scores(_one_hot_logits(predicted, 120), torch.arange(120)[None], counts, tail_share=10 / 120)
    assert row["tail_accuracy"] == 1.0 and row["accuracy"] == pytest.approx(10 / 120)


@pytest.mark.parametrize("profile", [None, "smoke", "paper"])
def test_every_profile_of_the_chapter_passes_its_up_front_checks(profile):
    """The paper profile once asked for an open world larger than its frequency file (1,250 of
    LAIONet's 1,000 classes) and would have stopped before training: a profile is checked here."""
    from clipbook.book import runner

    chapter = runner.find_chapter("6")
    p = {name: param.default for name, param in chapter.parameters.items()} | chapter.resolve(profile=profile)
    world = ImbalanceWorld(n_adjectives=p["n_adjectives"], n_nouns=p["n_nouns"], alpha=p["alpha"],
                           profile=p["frequency_file"] or "power_law")
    ex.check_settings(world, n_train=p["n_train"], seed=p["first_seed"], vocab_sizes=p["vocab_sizes"],
                      weightings=p["weightings"], data_fractions=p["data_fractions"], trim_tail=p["trim_tail"],
                      tail_cap=p["tail_cap"], open_adjectives=p["open_adjectives"])


def test_informative_captions_name_the_class_s_shared_attribute_on_the_same_images():
    base = ImbalanceWorld(n_adjectives=3, n_nouns=4, n_attributes=3)
    named = replace(base, attribute_described=1.0)
    plain, described = sample(base, 7, "train", 400), sample(named, 7, "train", 400)
    assert torch.equal(plain.x, described.x) and torch.equal(plain.y, described.y)  # captions differ, images do not
    first = base.n_adjectives + base.n_nouns
    words = described.t[0, :, first:first + base.n_attributes]
    assert torch.all(words.sum(1) == 1) and plain.t[0, :, first:first + base.n_attributes].sum() == 0
    attribute_of = {}  # one attribute per class, several classes per attribute
    for label, word in zip(described.y[0].tolist(), words.argmax(1).tolist()):
        assert attribute_of.setdefault(label, word) == word
    assert len(set(attribute_of.values())) < len(attribute_of)
    assert torch.equal(named.class_names()[:, first:], torch.zeros(12, named.text_dim - first))  # prompts: names only
    with pytest.raises(ValueError, match="n_attributes"):
        ImbalanceWorld(attribute_described=0.5)


def test_the_data_scale_sweep_trains_on_the_size_its_check_reads():
    assert ex.scaled_size(20000, 1 / 32) == 625 and ex.scaled_size(10, 0.01) == 1  # never an empty data set


def test_names_of_their_own_change_the_captions_and_nothing_else():
    """Trim-tail's second world: each class named by a word of its own, the images drawn as before."""
    shared = ImbalanceWorld(n_adjectives=3, n_nouns=4, n_attributes=2, attribute_described=1.0)
    own = replace(shared, shared_words=False)
    assert own.n_name_words == 12 and own.text_dim == 12 + 2 + shared.n_details
    assert own.class_names()[:, :12].equal(torch.eye(12))  # no two classes share a name word
    a, b = sample(shared, 5, "train", 400), sample(own, 5, "train", 400)
    assert a.x.equal(b.x) and a.y.equal(b.y)
    assert b.t[0, torch.arange(400), b.y[0]].eq(1).all() and b.t[0, :, :12].sum(1).eq(1).all()
    assert b.t[0, :, 12:14].sum(1).eq(1).all()  # the attribute's word still named, after the name words


def test_the_pretraining_corpus_holds_every_class_and_is_not_the_training_data():
    world = ImbalanceWorld(n_adjectives=2, n_nouns=3, trim_tail=2, tail_cap=0)
    corpus, train = sample(world, 0, "pretrain", 60), sample(world, 0, "train", 60)
    assert torch.bincount(corpus.y[0], minlength=6).tolist() == [10] * 6  # the trimmed classes included
    assert not torch.isin(corpus.x[0, :, 0], train.x[0, :, 0]).any()  # a stream of its own


def test_a_locked_text_tower_stays_as_it_was_and_the_image_tower_learns():
    world = ImbalanceWorld(n_adjectives=2, n_nouns=3)
    data = sample(world, 0, "train", 300)
    config = TrainConfig(steps=5, batch_size=32, lr=0.1)
    text = ex.train_mmcl(sample(world, 0, "pretrain", 300), 4, config)["text"]
    locked = ex.train_mmcl(data, 4, config, frozen_text=text)
    free = ex.train_mmcl(data, 4, config)
    assert locked["text"] is text and not free["text"].equal(text)
    assert not locked["image"].equal(ex.train_mmcl(data, 4, TrainConfig(steps=0, batch_size=32, lr=0.1))["image"])


def test_trim_sweep_runs_every_arm_of_wen_et_al_fig_8():
    world = ImbalanceWorld(n_adjectives=2, n_nouns=3, trim_tail=2, tail_cap=1, shared_words=False)
    sweep = ex.trim_sweep(world, [0, 1], vocab_size=2, weighting="frequency", n_pretrain=120, n_train=300, n_test=3,
                          embed_dim=4, config=TrainConfig(steps=3, batch_size=16, lr=0.1))
    arms = [ex.SCRATCH, ex.LOCKED, ex.SL, ex.PRETRAINED, ex.pretrained_subsampled(2)]
    assert sweep.results.method.tolist() == [m for m in arms for _ in (0, 1)]
    trimmed = ex.trimmed_accuracy(sweep.history, world)
    assert len(trimmed) == 10 and trimmed.accuracy.between(0, 1).all()
    with pytest.raises(ValueError, match="open_adjectives"):
        ex.trim_sweep(replace(world, open_adjectives=1), [0], vocab_size=2, weighting="uniform", n_pretrain=60,
                      n_train=100, n_test=1, embed_dim=4, config=TrainConfig(steps=1, batch_size=8, lr=0.1))
