import numpy as np
import pandas as pd
import pytest
import torch
from scipy import special

from clipbook.data import diversity as world_data
from clipbook.data.captions import WORDS, caption_labels
from clipbook.data.diversity import ID, DiversityWorld, accuracy_columns, training_set
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


def _synthetic_results(offsets: dict, seeds=(0, 1, 2), slope=0.8, intercept=-0.5) -> pd.DataFrame:
    """Baseline checkpoints exactly on a logit line; other models at a known ER above it."""
    def ood(acc, er=0.0):
        return special.expit(slope * special.logit(acc) + intercept) + er

    rows = []
    for seed in seeds:
        for step, acc in enumerate([0.3, 0.5, 0.7, 0.9], 1):
            rows.append(dict(method="supervised", head="classifier", diverse_fraction=0.0, size_fraction=1.0,
                             seed=seed, step=step, id_accuracy=acc, ood_accuracy=ood(acc)))
        for (method, head, fraction, size), er in offsets.items():
            rows.append(dict(method=method, head=head, diverse_fraction=fraction, size_fraction=size, seed=seed,
                             step=4, id_accuracy=0.6, ood_accuracy=ood(0.6, er + 0.01 * seed)))
    return pd.DataFrame(rows)


def test_effective_robustness_and_factor_effects_recover_known_offsets():
    offsets = {("clip", "zero-shot", 1.0, 1.0): 0.20, ("clip", "zero-shot", 1.0, 0.25): 0.18,
               ("clip", "zero-shot", 0.0, 1.0): 0.02, ("clip", "linear probe", 1.0, 1.0): 0.15,
               ("caption_labels", "classifier", 1.0, 1.0): 0.19}
    results, line = diversity.with_effective_robustness(_synthetic_results(offsets))
    assert line.slope == pytest.approx(0.8) and line.intercept == pytest.approx(-0.5)
    assert results[diversity.is_baseline(results)].er.abs().max() < 1e-9
    effects = diversity.factor_effects(results).groupby("factor").delta_er.mean()
    expected = {"training distribution": 0.18, "training set size": 0.02, "language at training time": 0.03,
                "language at test time": 0.05, "contrastive loss": 0.01}
    # the supervised baseline has ER 0, so language at training time keeps the seed term (mean 0.01)
    assert effects.to_dict() == pytest.approx(expected)
    table = diversity.factor_table(diversity.factor_effects(results))
    assert table.loc["training distribution", "seeds"] == 3


def test_the_factor_table_rounds_the_mean_and_prints_the_interval():
    # two seeds, effects 0.1234 and 0.2234: mean 0.1734, t(0.975, 1) * 0.05 = 0.6353 either side
    effects = pd.DataFrame({"factor": ["training distribution"] * 2, "seed": [0, 1], "delta_er": [0.1234, 0.2234]})
    row = diversity.factor_table(effects).loc["training distribution"]
    half = special.stdtrit(1, 0.975) * 0.05
    assert row.to_dict() == {"delta ER": 0.173, "95% CI": f"[{0.1734 - half:.3f}, {0.1734 + half:.3f}]", "seeds": 2}


def test_effective_robustness_per_shift_has_its_own_line():
    # two shifts: sketch on the line of _synthetic_results, edge on a line one logit lower; the
    # CLIP model lies 0.1 above each shift's own line at its final checkpoint (step 4)
    results = _synthetic_results({("clip", "zero-shot", 1.0, 1.0): 0.0}, seeds=(0,))
    on_line = special.expit(0.8 * special.logit(results.id_accuracy) - 0.5)
    edge_line = special.expit(0.8 * special.logit(results.id_accuracy) - 1.5)
    clip = (results.method == "clip").to_numpy()
    results = results.assign(acc_sketch=on_line + 0.1 * clip, acc_edge=edge_line + 0.1 * clip)
    per_shift = diversity.shift_effective_robustness(results, ["sketch", "edge"])
    assert list(per_shift["shift"]) == ["sketch", "sketch", "edge", "edge"]  # final rows: supervised and CLIP
    assert per_shift.er.to_numpy() == pytest.approx([0.0, 0.1, 0.0, 0.1], abs=1e-9)
    assert per_shift.model.tolist() == ["supervised, narrow", "CLIP zero-shot, diverse"] * 2


def test_model_names_read_like_the_legend():
    frame = pd.DataFrame(dict(method=["clip", "supervised", "caption_labels", "clip", "clip"],
                              head=["zero-shot", "classifier", "classifier", "linear probe", "zero-shot"],
                              diverse_fraction=[1.0, 0.0, 1.0, 0.5, 0.75], size_fraction=[0.25, 1.0, 1.0, 1.0, 0.75]))
    assert diversity.model_names(frame).tolist() == [
        "CLIP zero-shot, diverse (25% size)", "supervised, narrow", "caption labels, diverse",
        "CLIP linear probe, 50% diverse", "CLIP zero-shot, 75% diverse (75% size)"]


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
    got = tower_logits(stack, tokenizer(sum(ensembles, [])), 3)(stack.params, x)[0]
    model.eval()
    with torch.no_grad():
        head = F.normalize(torch.stack([model.encode_text(tokenizer(e), normalize=True).mean(0) for e in ensembles]), dim=-1)
        expected = model.encode_image(x, normalize=True) @ head.T
    assert torch.allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize("method", ["supervised", "caption_labels", "clip"])
def test_run_setting_measures_every_test_set(method):
    tests = world_data.test_sets(WORLD)
    config = TrainConfig(steps=4, batch_size=16, lr=1e-3, log_every=2)
    rows = diversity.run_setting(WORLD, diversity.Setting(method, 1.0, 1.0), 0, config, tests)
    frame = pd.DataFrame(rows)
    heads = {"clip": {"zero-shot", "linear probe"}}.get(method, {"classifier"})
    assert set(frame["head"]) == heads
    assert set(frame.step) == {2, 4} and set(frame[frame["head"] == "linear probe"].step) <= {4}
    shifts = frame[[f"acc_{s}" for s in WORLD.shift_styles]]
    assert np.allclose(frame.ood_accuracy, shifts.mean(axis=1))
    assert frame[["id_accuracy", "ood_accuracy"]].stack().between(0, 1).all()


def test_accuracy_columns_average_the_shift_styles_only():
    accuracies = {ID: 0.9, "sketch": 0.4, "cartoon": 0.6, "noisy": 0.1}
    assert accuracy_columns(accuracies, ["sketch", "cartoon"]) == pytest.approx(
        {"id_accuracy": 0.9, "ood_accuracy": 0.5, "acc_sketch": 0.4, "acc_cartoon": 0.6})
