"""Chapter 2's image experiment: the captions of each variant, a tiny run, its claim statistic,
and the real-data version's label-only text and input checks."""

import numpy as np
import pandas as pd
import pytest
import torch
from real_fixtures import COLOURS, jpeg
from scipy import special

from clipbook.data.captions import captions
from clipbook.data.diversity import DECORRELATED, ID, DiversityWorld, SharedDetailWorld
from clipbook.data.shapes import ShapesSpec, sample_latents
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
    sweep = fsi.run_sweeps({"": fsi.ImageArm(world)}, [0, 1], config, device=torch.device("cpu"))[""]
    r = sweep.results
    assert sorted(set(zip(r.variant, r.seed, r.step))) == sorted(
        (v, s, t) for v in (fsi.FULL, fsi.LABEL_ONLY) for s in (0, 1) for t in (2, 4))
    shifts = [f"acc_{s}" for s in world.shift_styles]
    np.testing.assert_allclose(r.ood_accuracy, r[shifts].mean(axis=1))
    assert r[["id_accuracy", *shifts]].stack().between(0, 1).all()


def test_the_shared_detail_world_runs_with_its_own_shift():
    world = SharedDetailWorld(n_train=64, n_test=32)
    sweep = fsi.run_sweeps({"": fsi.ImageArm(world, ("colour",))}, [0], TrainConfig(steps=2, batch_size=16, log_every=2),
                           device=torch.device("cpu"))[""]
    assert set(sweep.results.variant) == {fsi.FULL, fsi.LABEL_ONLY} and f"acc_{DECORRELATED}" in sweep.results


def test_colour_follows_the_class_in_training_and_id_but_not_in_the_shifted_test():
    """Own colour with probability 1 - share plus a uniform draw's 1/8; 1/8 alone once decorrelated;
    the shifted test shows the same scenes otherwise."""
    world = SharedDetailWorld(n_test=4000, share=0.4)
    own = lambda spec: (lambda l: float((l.colour == l.label).mean()))(sample_latents(spec))  # noqa: E731
    assert own(world.narrow(3, 4000)) == pytest.approx(0.6 + 0.4 / 8, abs=0.03)
    assert own(world.spec(3, 4000, 0.0)) == pytest.approx(1 / 8, abs=0.02)
    sets = world.test_sets()
    assert set(sets) == {ID, DECORRELATED} and len(world.class_names) == 8
    same = sets[ID].latents.drop(columns="colour").equals(sets[DECORRELATED].latents.drop(columns="colour"))
    assert same
    with pytest.raises(ValueError, match="p_own"):
        ShapesSpec(p_own=0.5, held_out=(("red", "circle"),))


def _checkpoints(variant: str, offset_by_seed: dict[int, float], ids) -> pd.DataFrame:
    return pd.DataFrame([{"variant": variant, "seed": s, "id_accuracy": x,
                          "ood_accuracy": float(special.expit(special.logit(x) + o))}
                         for s, o in offset_by_seed.items() for x in ids])


def test_the_figure_marks_where_the_lines_are_compared():
    import matplotlib.pyplot as plt

    points = pd.concat([_checkpoints(fsi.FULL, {0: 0.3, 1: 0.2}, [0.3, 0.5, 0.7]),
                        _checkpoints(fsi.LABEL_ONLY, {0: 0.0, 1: 0.1}, [0.4, 0.6, 0.8])])
    fig = fsi.compared_lines(points)
    (ax,) = fig.axes
    assert ax.get_lines()[-1].get_xdata()[0] == pytest.approx(fsi.common_id_accuracy(points))
    plt.close(fig)


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


def test_two_seeds_and_two_accuracies_per_variant_decide_the_claim():
    results = pd.concat([_checkpoints(fsi.FULL, {0: 0.4, 1: 0.6}, (0.3, 0.5)),
                         _checkpoints(fsi.LABEL_ONLY, {0: 0.0, 1: 0.1}, (0.3, 0.5))])
    gap = fsi.claim_statistics(results, n_boot=50)["caption_line_gap"]
    # a seed-level bootstrap of two seeds: resamples hold both, or one twice; all have a line
    assert gap.n == 2 and gap.lo > 0  # n counts seeds, not resamples


def test_claim_statistic_is_undecided_without_common_accuracies():
    results = pd.concat([_checkpoints(fsi.FULL, {0: 0.0, 1: 0.1}, (0.1, 0.2)),
                         _checkpoints(fsi.LABEL_ONLY, {0: 0.0, 1: 0.1}, (0.5, 0.8))])
    assert fsi.claim_statistics(results)["caption_line_gap"].n == 0


def test_claim_statistic_is_undecided_with_one_seed_to_resample():
    results = pd.concat([_checkpoints(fsi.FULL, {0: 0.4}, (0.2, 0.35, 0.5)),
                         _checkpoints(fsi.LABEL_ONLY, {0: 0.0, 1: 0.1}, (0.3, 0.6, 0.9))])
    assert fsi.claim_statistics(results)["caption_line_gap"].n == 0


def test_claim_statistic_is_undecided_when_a_variant_has_no_line():
    results = pd.concat([_checkpoints(fsi.FULL, {0: 0.4, 1: 0.6}, (0.3,)),
                         _checkpoints(fsi.LABEL_ONLY, {0: 0.0, 1: 0.1}, (0.3, 0.6, 0.9))])
    assert fsi.claim_statistics(results)["caption_line_gap"].n == 0


@pytest.mark.parametrize("caption, named", [
    ("A tiger shark near the reef", {"tiger shark"}),  # the longest name at a place, not the tiger in it
    ("Tiger, and a SEA-LION!", {"tiger", "sea lion"}),  # case and punctuation ignored
    ("two tigers", set()),  # whole words only
    ("shark tiger", {"tiger"}),
    ("", set()),
])
def test_the_scanner_finds_whole_class_names(caption, named):
    assert fsi.class_scanner(["tiger", "tiger shark", "sea lion"])(caption) == named


def _pairs(folder, captions, labels=None):
    for i, _ in enumerate(captions):
        jpeg(folder / "images" / f"{i}.jpg", COLOURS[i % len(COLOURS)])
    table = pd.DataFrame({"filepath": [f"images/{i}.jpg" for i in range(len(captions))], "caption": captions})
    if labels is not None:
        table["label"] = labels
    table.to_csv(folder / "pairs.csv", index=False)
    return folder / "pairs.csv"


def test_label_only_text_keeps_the_pairs_that_name_one_class(tmp_path):
    captions = ["A ripe banana on a table.", "an old rocking chair", "a folding chair and a banana", "a red thing"]
    tables = fsi.label_only_pairs(_pairs(tmp_path, captions), tmp_path / "out")
    full, label = (pd.read_csv(tables[v]) for v in (fsi.FULL, fsi.LABEL_ONLY))
    assert list(full.caption) == captions[:2]
    assert list(label.caption) == ["a photo of a banana.", "a photo of a rocking chair."]
    assert list(full.filepath) == list(label.filepath) == [str(tmp_path / "images" / f"{i}.jpg") for i in (0, 1)]


def test_label_only_text_follows_a_label_column(tmp_path):
    tables = fsi.label_only_pairs(_pairs(tmp_path, ["one", "two"], labels=[1, 0]), tmp_path / "out",
                                  classnames=["cat", "dog"])
    assert list(pd.read_csv(tables[fsi.LABEL_ONLY]).caption) == ["a photo of a dog.", "a photo of a cat."]


def test_pairs_that_name_no_class_are_an_error(tmp_path):
    with pytest.raises(ValueError, match="label column"):
        fsi.label_only_pairs(_pairs(tmp_path, ["a red thing"]), tmp_path / "out")


def test_missing_real_data_are_named_together_before_any_compute(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        fsi.locate_real(tmp_path, shifts=["imagenet_sketch"])
    message = str(error.value)
    for piece in ("pairs.csv", "imagenet/val", "imagenet-sketch", "real_pairs", "real_data"):
        assert piece in message
    assert "imagenet-r" not in message  # only the shifts asked for
    with pytest.raises(ValueError, match="unknown shifts"):
        fsi.locate_real(tmp_path, shifts=["imagenet_c"])


def test_the_pairs_table_is_checked_before_any_compute(tmp_path):
    (tmp_path / "imagenet" / "val").mkdir(parents=True)
    (tmp_path / "pairs.csv").write_text("filepath,caption\nmissing.jpg,a banana\n")
    with pytest.raises(ValueError, match="do not exist"):
        fsi.locate_real(tmp_path, shifts=[])
    paths = fsi.locate_real(tmp_path, _pairs(tmp_path / "coco", ["a banana"]), shifts=[])
    assert paths["csv"] == tmp_path / "coco" / "pairs.csv"


def test_the_layout_table_names_the_pairs_and_every_test_set():
    table = fsi.layout_table("/data")
    assert list(table.index[:3]) == ["/data/pairs.csv", "/data/imagenet/val", "/data/imagenetv2-matched-frequency"]


@pytest.mark.slow
def test_the_chapter_runs_the_real_data_section_on_a_fixture(tmp_path):
    from real_fixtures import CLASSES, imagenet_like

    from clipbook.book import runner
    from clipbook.data.imagenet import imagenet_classnames

    imagenet_like(tmp_path / "data")
    names = [imagenet_classnames()[k] for k in CLASSES]
    _pairs(tmp_path / "data", [f"my {names[i % 3]} today" for i in range(12)])
    chapter = next(c for c in runner.chapters() if c.slug == "feature-sharing")
    out = runner.run(chapter, {"real_data": str(tmp_path / "data"), "real_out": str(tmp_path / "out"),
                               "real_n_seeds": 2, "real_model": "tiny-rn-bpe", "real_epochs": 2,
                               "real_batch_size": 4, "real_warmup": 0, "real_workers": 0, "real_prompts": "simple"},
                     profile="smoke", output=tmp_path / "chapter.ipynb", progress=False)
    claims = {c["id"]: c for c in runner.read_record(out)["claims"]}
    accuracies = pd.read_csv(tmp_path / "out" / "accuracies.csv")
    assert len(accuracies) == 4 * 2 * 6 and claims["i"]["source"].startswith("Xue et al.")
