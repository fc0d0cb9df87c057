import numpy as np
import pandas as pd
import pytest
import torch
from scipy import special

from clipbook.evaluate.rules import Control
from clipbook.data import diversity as world_data
from clipbook.data.captions import WORDS, caption_labels
from clipbook.data.diversity import ID, DiversityWorld, accuracy_columns, training_set
from clipbook.data.render import make_shapes
from clipbook.data.shapes import ATTRIBUTES
from clipbook.evaluate.zero_shot import tower_logits
from clipbook.experiments import diversity
from clipbook.models.towers import create_supervised
from clipbook.training.loop import TrainConfig
from clipbook.training.stacked import StackedModels, pixels

WORLD = DiversityWorld(n_train=64, n_test=32)


def test_caption_labels_take_the_one_class_named_and_drop_the_rest():
    names = ("circle", "square", "star")
    texts = ["a photo of a red circle.", "nice object an image of a object.", "a circle and a square", "STAR art"]
    assert caption_labels(texts, names).tolist() == [0, -1, -1, 2]


def test_training_set_mixes_the_same_scenes_and_nests_sizes():
    narrow = training_set(WORLD, 0.0, 1.0, seed=3)
    diverse = training_set(WORLD, 1.0, 1.0, seed=3)
    half = training_set(WORLD, 0.5, 1.0, seed=3)
    quarter = training_set(WORLD, 1.0, 0.25, seed=3)
    assert torch.equal(narrow.labels, diverse.labels)  # same scenes, drawn differently
    assert not torch.equal(narrow.images, diverse.images)
    assert torch.equal(half.images[:32], diverse.images[:32]) and torch.equal(half.images[32:], narrow.images[32:])
    assert len(quarter.images) == 16 and torch.equal(quarter.images, diverse.images[:16])
    style_words = {WORDS["style"][ATTRIBUTES["style"].index(s)] for s in WORLD.diverse_styles}
    assert all(w not in c.split() for c in narrow.captions for w in style_words - {"photo"})
    with pytest.raises(ValueError):
        training_set(WORLD, 1.5, 1.0, seed=0)


def test_test_sets_draw_the_same_scenes_in_every_style():
    tests = world_data.test_sets(WORLD)
    assert list(tests) == [ID, *WORLD.shift_styles]
    labels = [d.latents["label"].to_numpy() for d in tests.values()]
    assert all((l == labels[0]).all() for l in labels)
    assert {ATTRIBUTES["style"][s] for s in tests["sketch"].latents["style"]} == {"sketch"}


def test_settings_cover_every_factor():
    runs = diversity.settings([0.0, 0.5, 1.0], [0.25, 1.0])
    assert diversity.Setting("supervised", 0.0, 1.0) in runs
    assert {r.diverse_fraction for r in runs if r.method == "clip"} == {0.0, 0.5, 1.0}
    assert diversity.Setting("clip", 1.0, 0.25) in runs and diversity.Setting("caption_labels", 1.0, 1.0) in runs
    assert diversity.Setting("simclr", 1.0, 1.0) in runs
    assert all(r.left_out == "" for r in runs)


def test_left_out_styles_rotate_over_seeds_so_each_is_left_out_equally_often():
    covered = ("sketch", "cartoon", "noisy")
    one = [diversity.left_out_settings(seed, covered, 1) for seed in range(6)]
    assert [s.left_out for runs in one for s in runs] == ["sketch", "cartoon", "noisy"] * 2
    assert all(s == diversity.Setting("clip", 1.0, 1.0, s.left_out) for runs in one for s in runs)
    assert [s.left_out for s in diversity.left_out_settings(4, covered, 3)] == ["sketch", "cartoon", "noisy"]
    assert [s.left_out for s in diversity.left_out_settings(1, covered, 2)] == ["noisy", "sketch"]
    assert diversity.left_out_settings(0, covered, 0) == []
    with pytest.raises(ValueError, match="per_seed"):
        diversity.left_out_settings(0, covered, 4)


def test_a_world_without_a_style_never_draws_it_and_keeps_its_tests():
    assert WORLD.covered_shifts == ("sketch", "cartoon", "noisy")  # edge maps are in no training set
    without = WORLD.without("sketch")
    assert without.diverse_styles == ("photo", "cartoon", "noisy") and without.shift_styles == WORLD.shift_styles
    drawn = training_set(without, 1.0, 1.0, seed=0)
    styles = {ATTRIBUTES["style"][s] for s in make_shapes(without.diverse(0, 64)).latents["style"]}
    assert styles == {"photo", "cartoon", "noisy"} and len(drawn.images) == 64
    with pytest.raises(ValueError, match="leave out"):
        WORLD.without("edge")


def _synthetic_results(offsets: dict, seeds=(0, 1, 2), slope=0.8, intercept=-0.5) -> pd.DataFrame:
    """Baseline checkpoints exactly on a logit line; other models at a known ER above it."""
    def ood(acc, er=0.0):
        return special.expit(slope * special.logit(acc) + intercept) + er

    rows = []
    for seed in seeds:
        for step, acc in enumerate([0.3, 0.5, 0.7, 0.9], 1):
            rows.append(dict(method="supervised", head="classifier", diverse_fraction=0.0, size_fraction=1.0,
                             left_out="", seed=seed, step=step, id_accuracy=acc, ood_accuracy=ood(acc)))
        for (method, head, fraction, size), er in offsets.items():
            rows.append(dict(method=method, head=head, diverse_fraction=fraction, size_fraction=size, left_out="",
                             seed=seed, step=4, id_accuracy=0.6, ood_accuracy=ood(0.6, er + 0.01 * seed)))
    return pd.DataFrame(rows)


OFFSETS = {("clip", "zero-shot", 1.0, 1.0): 0.20, ("clip", "zero-shot", 1.0, 0.25): 0.18,
           ("clip", "zero-shot", 0.0, 1.0): 0.02, ("clip", "linear probe", 1.0, 1.0): 0.15,
           ("clip", "class names", 1.0, 1.0): 0.17, ("caption_labels", "classifier", 1.0, 1.0): 0.19,
           ("simclr", "classifier", 1.0, 1.0): 0.12}


@pytest.mark.parametrize("reading", ["matched", "final"])
def test_effective_robustness_and_factor_effects_recover_known_offsets(reading):
    results, line = diversity.with_effective_robustness(_synthetic_results(OFFSETS))
    assert line.slope == pytest.approx(0.8) and line.intercept == pytest.approx(-0.5)
    assert results[diversity.is_baseline(results)].er.abs().max() < 1e-9
    effects = diversity.factor_effects(results, reading)
    expected = {"training distribution": 0.18, "training set size": 0.02, "language at training time": 0.03,
                "language at test time": 0.03, "contrastive loss": 0.01, "language and loss (SimCLR)": 0.08}
    # the supervised baseline has ER 0, so language at training time keeps the seed term (mean 0.01)
    assert effects.groupby("factor", sort=False).delta_er.mean().to_dict() == pytest.approx(expected)
    assert list(dict.fromkeys(effects.factor)) == list(diversity.FACTORS)
    # every model here ends at ID 0.6; the supervised one is read where its trajectory crossed 0.6
    assert (effects.accuracy == 0.6).all()
    probe = diversity.factor_effects(results, reading, diversity.SECOND_READINGS)
    assert probe.delta_er.to_numpy() == pytest.approx([0.05] * 3)
    table = diversity.factor_table(effects)
    assert table.loc["training distribution", "seeds"] == 3


def test_the_matched_reading_compares_models_where_their_trajectories_share_an_accuracy():
    # model a: ID 0.3 -> 0.9 with ER rising 0 -> 0.3; model b ends at ID 0.6 with ER 0.05
    a = pd.DataFrame({"step": [300, 100, 200], "id_accuracy": [0.9, 0.3, 0.6], "er": [0.3, 0.0, 0.1]})
    b = pd.DataFrame({"step": [100, 200], "id_accuracy": [0.4, 0.6], "er": [0.0, 0.05]})
    assert diversity.matched_difference(a, b) == pytest.approx({"delta_er": 0.05, "accuracy": 0.6})
    assert diversity.final_difference(a, b) == pytest.approx({"delta_er": 0.25, "accuracy": 0.6})
    # a model already past the common accuracy at its first checkpoint has no reading there
    late = pd.DataFrame({"step": [100], "id_accuracy": [0.8], "er": [0.2]})
    assert np.isnan(diversity.matched_difference(late, b)["delta_er"])


def test_coverage_compares_the_left_out_style_with_and_without_it_in_training():
    def model(left_out, fraction, er_sketch, seed):  # the class-names head is 1.0 less robust everywhere
        return [dict(method="clip", head=head, diverse_fraction=fraction, size_fraction=1.0, left_out=left_out,
                     seed=seed, step=step, id_accuracy=acc, er_sketch=er_sketch * acc - shift, er_cartoon=-shift,
                     er_edge=0.0)
                for head, shift in (("zero-shot", 0.0), ("class names", 1.0)) for step, acc in ((1, 0.5), (2, 0.8))]

    rows = []
    for seed in (0, 1):
        rows += model("", 1.0, 0.5, seed) + model("", 0.0, 0.1, seed) + model("sketch", 1.0, 0.2, seed)
    rows += model("sketch", 1.0, 0.2, 2)  # a seed without the other models: no comparison
    rows += model("sketch", 1.0, 0.2, 3) + model("", 0.0, 0.1, 3)  # without the covered model: one comparison
    effects = diversity.coverage_effects(pd.DataFrame(rows))
    assert list(effects.columns) == ["seed", "style", "comparison", "delta_er", "accuracy"]
    assert effects.seed.tolist() == [0, 0, 1, 1, 3] and set(effects["style"]) == {"sketch"}
    assert effects.delta_er.tolist() == pytest.approx([0.8 * 0.3, 0.8 * 0.1] * 2 + [0.8 * 0.1])
    assert list(diversity.coverage_effects(pd.DataFrame(rows[:8])).columns) == list(effects.columns)  # none
    got = {c: i.mean for c, i in diversity.factor_intervals(effects, by="comparison").items()}
    assert got["covered - left out"] == pytest.approx(0.8 * 0.3) and got["left out - narrow"] == pytest.approx(0.8 * 0.1)
    assert diversity.factor_table(effects, by="comparison")["seeds"].tolist() == [2, 3]
    labels = diversity.style_effective_robustness(pd.DataFrame(rows), ["sketch", "cartoon", "edge"],
                                                  ["sketch", "cartoon"])
    assert list(labels.columns) == ["seed", "shift", "training set", "er"] and labels.index.is_unique
    assert (labels.er > -0.5).all()  # zero-shot heads only, at their last checkpoints
    assert labels[(labels.seed == 0) & (labels["shift"] == "sketch")].er.tolist() == pytest.approx([0.4, 0.08, 0.16])
    by = labels[labels.seed == 0].groupby(["shift", "training set"]).size().to_dict()
    assert by == {("cartoon", "diverse, with this style"): 2, ("cartoon", "narrow"): 1,
                  ("edge", "diverse, without this style"): 2, ("edge", "narrow"): 1,
                  ("sketch", "diverse, with this style"): 1, ("sketch", "diverse, without this style"): 1,
                  ("sketch", "narrow"): 1}


def test_the_factor_table_rounds_the_mean_and_prints_the_interval():
    # two seeds, effects 0.1234 and 0.2234: mean 0.1734, t(0.975, 1) * 0.05 = 0.6353 either side
    effects = pd.DataFrame({"factor": ["training distribution"] * 2, "seed": [0, 1], "delta_er": [0.1234, 0.2234]})
    row = diversity.factor_table(effects).loc["training distribution"]
    half, tost = special.stdtrit(1, 0.975) * 0.05, special.stdtrit(1, 0.95) * 0.05
    assert row.to_dict() == {"delta ER": 0.173, "95% CI": f"[{0.1734 - half:.3f}, {0.1734 + half:.3f}]",
                             "90% CI": f"[{0.1734 - tost:.3f}, {0.1734 + tost:.3f}]", "seeds": 2}


def test_effective_robustness_per_shift_has_its_own_line():
    # two shifts: sketch on the line of _synthetic_results, edge on a line one logit lower; the
    # CLIP model lies 0.1 above each shift's own line
    results = _synthetic_results({("clip", "zero-shot", 1.0, 1.0): 0.0}, seeds=(0,))
    on_line = special.expit(0.8 * special.logit(results.id_accuracy) - 0.5)
    edge_line = special.expit(0.8 * special.logit(results.id_accuracy) - 1.5)
    clip = (results.method == "clip").to_numpy()
    results = results.assign(acc_sketch=on_line + 0.1 * clip, acc_edge=edge_line + 0.1 * clip)
    results, _ = diversity.with_effective_robustness(results, ["sketch", "edge"])
    for shift in ("sketch", "edge"):
        assert results[f"er_{shift}"].to_numpy() == pytest.approx(0.1 * clip, abs=1e-9)


def test_model_names_read_like_the_legend():
    frame = pd.DataFrame(dict(method=["clip", "supervised", "caption_labels", "clip", "clip", "simclr", "clip"],
                              head=["zero-shot", "classifier", "classifier", "linear probe", "zero-shot", "classifier",
                                    "class names"],
                              diverse_fraction=[1.0, 0.0, 1.0, 0.5, 0.75, 1.0, 1.0],
                              size_fraction=[0.25, 1.0, 1.0, 1.0, 0.75, 1.0, 1.0],
                              left_out=["", "", "", "", "", "", "sketch"]))
    assert diversity.model_names(frame).tolist() == [
        "CLIP zero-shot, diverse (25% size)", "supervised, narrow", "caption labels, diverse",
        "CLIP linear probe, 50% diverse", "CLIP zero-shot, 75% diverse (75% size)", "SimCLR + caption labels, diverse",
        "CLIP class names, diverse without sketch"]


def test_stacked_evaluate_uses_running_statistics_and_leaves_them_alone():
    model = create_supervised("tiny-rn", 4, seed=0)
    stack = StackedModels([model], torch.device("cpu"))
    x = pixels(torch.rand(8, 3, 32, 32), stack.visual)
    before = {k: v.clone() for k, v in stack.buffers.items()}
    out = stack.evaluate(stack.params, x)
    assert all(torch.equal(before[k], v) for k, v in stack.buffers.items())
    assert torch.allclose(out[0], model.eval()(x), atol=1e-5)
    assert not out.requires_grad


def test_tower_zero_shot_logits_match_the_model_s_own_encoders():
    import torch.nn.functional as F

    from clipbook.data.captions import WordTokenizer, zero_shot_prompts
    from clipbook.models.towers import create_clip

    model = create_clip("tiny-rn", seed=0, text_cfg={"context_length": 24})
    stack = StackedModels([model], torch.device("cpu"))
    tokenizer = WordTokenizer(context_length=24)
    ensembles = zero_shot_prompts(["circle", "square", "star"])
    x = pixels(torch.rand(6, 3, 32, 32), stack.visual)
    names = tokenizer(["circle", "square", "star"])
    heads = tower_logits(stack, {"prompts": tokenizer(sum(ensembles, [])), "names": names}, 3)(stack.params, x)
    got = heads["prompts"][0]
    model.eval()
    with torch.no_grad():
        head = F.normalize(torch.stack([model.encode_text(tokenizer(e), normalize=True).mean(0) for e in ensembles]), dim=-1)
        expected = model.encode_image(x, normalize=True) @ head.T
        by_name = model.encode_image(x, normalize=True) @ model.encode_text(names, normalize=True).T
    assert torch.allclose(got, expected, atol=1e-5)
    assert torch.allclose(heads["names"][0], by_name, atol=1e-5)


@pytest.mark.parametrize("method", ["supervised", "caption_labels", "clip", "simclr"])
def test_run_setting_measures_every_test_set(method):
    tests = world_data.test_sets(WORLD)
    config = TrainConfig(steps=4, batch_size=16, lr=1e-3, log_every=2)
    rows = diversity.run_setting(WORLD, diversity.Setting(method, 1.0, 1.0), 0, config, tests, pretrain_steps=2)
    frame = pd.DataFrame(rows)
    heads = {"clip": {"zero-shot", "class names", "linear probe"}}.get(method, {"classifier"})
    assert set(frame["head"]) == heads and set(frame.method) == {method}
    if method == "clip":  # only the full diverse CLIP gets a linear probe
        narrow = diversity.run_setting(WORLD, diversity.Setting("clip", 0.0, 1.0), 0, config, tests)
        assert {r["head"] for r in narrow} == {"zero-shot", "class names"}
    assert set(frame.step) == {2, 4} and set(frame[frame["head"] == "linear probe"].step) <= {4}
    shifts = frame[[f"acc_{s}" for s in WORLD.shift_styles]]
    assert np.allclose(frame.ood_accuracy, shifts.mean(axis=1))
    assert frame[["id_accuracy", "ood_accuracy"]].stack().between(0, 1).all()


def test_accuracy_columns_average_the_shift_styles_only():
    accuracies = {ID: 0.9, "sketch": 0.4, "cartoon": 0.6, "noisy": 0.1}
    assert accuracy_columns(accuracies, ["sketch", "cartoon"]) == pytest.approx(
        {"id_accuracy": 0.9, "ood_accuracy": 0.5, "acc_sketch": 0.4, "acc_cartoon": 0.6})


def test_both_readings_and_the_accuracy_gaps_between_compared_models():
    results, _ = diversity.with_effective_robustness(_synthetic_results(OFFSETS))
    # an earlier, less robust checkpoint of the diverse CLIP, where it was as accurate as the others end
    early = results[(results.method == "clip") & (results["head"] == "zero-shot") & (results.size_fraction == 1.0)
                    & (results.diverse_fraction == 1.0)].assign(step=2, id_accuracy=0.5, er=0.0)
    results = pd.concat([results, early], ignore_index=True).assign(
        id_accuracy=lambda r: np.where((r.method == "clip") & (r.step == 4) & (r.diverse_fraction == 1.0)
                                       & (r["head"] == "zero-shot") & (r.size_fraction == 1.0), 0.7, r.id_accuracy))
    both = diversity.both_readings(results)
    assert set(both.reading) == {"matched accuracy", "last checkpoint"} and both.index.equals(pd.RangeIndex(len(both)))
    assert len(both) == 2 * len(diversity.FACTORS) * 3
    for reading, name in (("matched", "matched accuracy"), ("final", "last checkpoint")):
        expected = diversity.factor_effects(results, reading).delta_er.to_numpy()
        assert both[both.reading == name].delta_er.to_numpy() == pytest.approx(expected, nan_ok=True)
    assert not np.allclose(both[both.reading == "matched accuracy"].delta_er, both[both.reading == "last checkpoint"]
                           .delta_er, equal_nan=True)
    assert diversity.factor_effects(results).equals(diversity.factor_effects(results, "matched"))  # the default
    final = diversity.final(results)
    gaps = diversity.accuracy_gaps(final)
    # the other models end at 0.6, the diverse CLIP at 0.7, the supervised one at 0.9
    assert gaps.loc["CLIP vs. supervised, narrow images"].to_dict() == pytest.approx(
        {"CLIP": 0.6, "classifier": 0.9, "gap": 0.3})
    assert gaps.loc["CLIP vs. SimCLR + caption labels, diverse images", "gap"] == pytest.approx(-0.1)
    odd = final.assign(id_accuracy=np.where(final.method == "clip", 0.12345, 0.56789))
    assert diversity.accuracy_gaps(odd).loc["CLIP vs. supervised, narrow images"].tolist() == [0.123, 0.568, 0.444]


def test_factor_effects_skip_seeds_that_lack_a_model_and_keep_their_columns_when_empty():
    results, _ = diversity.with_effective_robustness(_synthetic_results(OFFSETS))
    partial = results[~((results.method == "simclr") & (results.seed == 1))]
    effects = diversity.factor_effects(partial, "final")
    assert effects[effects.factor == "language and loss (SimCLR)"].seed.tolist() == [0, 2]
    baseline_only = results[diversity.is_baseline(results)]
    assert list(diversity.factor_effects(baseline_only).columns) == ["factor", "seed", "delta_er", "accuracy"]


def test_the_longest_jobs_start_first_and_the_rows_come_back_complete(monkeypatch):
    started = []

    def fake_run(world, setting, seed, config, tests, **kwargs):
        started.append(setting.method)
        return [{"method": setting.method, "seed": seed}]

    monkeypatch.setattr(diversity, "run_setting", fake_run)
    runs = diversity.settings([0.0, 1.0], [1.0])
    sweep = diversity.run_sweep(WORLD, runs, [0, 1], TrainConfig(), left_out_per_seed=1, device=torch.device("cuda"))
    assert started[:2] == ["simclr", "simclr"] and started[-4:] == ["supervised", "caption_labels"] * 2
    assert len(sweep.results) == 2 * (len(runs) + 1)


def test_the_smallest_clip_accuracy_reads_the_smallest_diverse_zero_shot_models():
    final = pd.DataFrame(dict(method=["clip"] * 5 + ["supervised"], head=["zero-shot"] * 3 + ["class names", "zero-shot",
                                                                                              "classifier"],
                              diverse_fraction=[1.0, 1.0, 1.0, 1.0, 0.0, 0.0], size_fraction=[0.5, 0.5, 1.0, 0.5, 0.5, 1.0],
                              left_out=[""] * 6, id_accuracy=[0.4, 0.6, 0.9, 0.1, 0.1, 0.1]))
    assert diversity.smallest_clip_accuracy(final) == pytest.approx(0.5)


def test_a_contributes_little_verdict_is_equivalence_within_the_margin_and_needs_a_learning_small_clip():
    effects = pd.DataFrame({"seed": [0, 1, 2] * 3, "delta_er": [0.01, -0.01, 0.0, 0.2, 0.21, 0.19, 0.3, 0.35, 0.28],
                            "factor": ["training set size"] * 3 + ["contrastive loss"] * 3
                            + ["training distribution"] * 3})
    er_ok = Control("planted ER", True, "0.05")
    verdict = {s: diversity.decide(effects, pd.DataFrame(), 0.05, s, er_ok) for s in (0.45, diversity.SIZE_FLOOR, 0.29)}
    assert verdict[0.45]["b"].verdict == verdict[diversity.SIZE_FLOOR]["b"].verdict == "reproduced"
    assert verdict[0.29]["b"].verdict == "undecided" and verdict[0.29]["b"].why.startswith("instrument")  # near chance
    assert diversity.decide(effects, pd.DataFrame(), 0.05, float("nan"), er_ok)["b"].verdict == "undecided"
    assert verdict[0.29]["e"].verdict == "not reproduced"  # the floor is size's only
    assert verdict[0.45]["a"].verdict == "reproduced"
    for claim in "cdfgh":  # arms this table does not hold
        assert verdict[0.45][claim].verdict == "undecided" and verdict[0.45][claim].why.startswith("not run")
    failed = diversity.decide(effects, pd.DataFrame(), 0.05, 0.45, Control("planted ER", False, "0.0"))
    assert {failed[k].verdict for k in "abe"} == {"undecided"}


def test_a_seed_without_a_matched_reading_leaves_the_comparison_undecided():
    effects = pd.DataFrame({"seed": [0, 1, 2, 3], "delta_er": [0.01, -0.01, 0.0, float("nan")],
                            "factor": ["training set size"] * 4})
    decided = diversity.decide(effects, pd.DataFrame(), 0.05, 0.45, Control("planted ER", True, "0.05"))
    assert decided["b"].verdict == "undecided" and "1 of 4 values are missing" in decided["b"].why


