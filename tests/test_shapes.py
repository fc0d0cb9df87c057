"""The shapes world draws what its spec asks for, deterministically and fast; captions and tokens too."""

import math
import os

import numpy as np
import pandas as pd
import pytest
import torch

from clipbook.data.captions import (
    NOISE_WORDS,
    TEMPLATES,
    WORDS,
    CaptionSpec,
    WordTokenizer,
    captions,
    vocabulary,
    words_of,
    zero_shot_prompts,
)
from clipbook.data.frequencies import class_counts
from clipbook.data.render import benchmark_renderer, make_shapes, object_masks, render
from clipbook.data.shapes import (
    ATTRIBUTES,
    COLOURS,
    SHAPES,
    STYLES,
    ShapesSpec,
    attribute_names,
    check_held_out,
    choose_held_out,
    sample_latents,
)


def _centred(n: int, **codes) -> pd.DataFrame:
    """Hand-made latents: large, centred, upright objects (attributes given by name)."""
    table = {a: np.zeros(n, dtype=np.int64) for a in ATTRIBUTES}
    for attribute, names in codes.items():
        table[attribute] = np.array([ATTRIBUTES[attribute].index(v) for v in np.broadcast_to(names, (n,))])
    return pd.DataFrame({**table, "label": 0, "x": 0.0, "y": 0.0, "scale": 0.62, "angle": 0.0})


# ---------------------------------------------------------------- determinism and shapes of the output

def test_same_spec_same_tensors_other_seed_other_tensors():
    spec = ShapesSpec(n=300, seed=4, styles=STYLES)
    a, b = make_shapes(spec), make_shapes(spec)
    assert torch.equal(a.images, b.images)
    pd.testing.assert_frame_equal(a.latents, b.latents)
    c = make_shapes(spec.with_split("train", seed=5))
    assert not torch.equal(a.images, c.images)
    assert (a.latents["shape"] != c.latents["shape"]).any()


def test_output_is_images_in_the_unit_range():
    data = make_shapes(ShapesSpec(n=64, image_size=48, styles=STYLES))
    assert data.images.shape == (64, 3, 48, 48) and data.images.dtype == torch.float32
    assert data.images.min() >= 0 and data.images.max() <= 1
    assert len(data.latents) == 64 and data.latents["label"].between(0, len(SHAPES) - 1).all()


def test_chunking_and_threads_do_not_change_the_images():
    latents = sample_latents(ShapesSpec(n=200, styles=STYLES))
    reference = render(latents)
    assert torch.equal(render(latents, chunk_size=7), reference)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert torch.equal(render(latents), reference)
    finally:
        torch.set_num_threads(threads)
    assert torch.get_num_threads() == threads


def test_changing_only_the_style_redraws_the_same_scenes():
    photo = sample_latents(ShapesSpec(n=500, styles=("photo",)))
    sketch = sample_latents(ShapesSpec(n=500, styles=("sketch",)))
    pd.testing.assert_frame_equal(photo.drop(columns="style"), sketch.drop(columns="style"))


# ---------------------------------------------------------------- the statistics asked for are the ones drawn

@pytest.mark.parametrize("profile,alpha", [("uniform", 1.0), ("power_law", 1.5), ("laionet_thresh0.7_ori", 1.0)])
def test_class_counts_follow_the_profile_exactly(profile, alpha):
    spec = ShapesSpec(n=3000, class_profile=profile, alpha=alpha)
    labels = sample_latents(spec)["label"].to_numpy()
    np.testing.assert_array_equal(np.bincount(labels, minlength=10), class_counts(profile, 10, 3000, alpha=alpha))


def test_other_attributes_are_uniform_over_the_allowed_values():
    spec = ShapesSpec(n=20_000, colours=("red", "blue", "green"), textures=("solid", "dots"))
    latents = sample_latents(spec)
    for attribute, allowed in (("colour", spec.colours), ("texture", spec.textures), ("position", spec.positions)):
        counts = latents[attribute].value_counts()
        assert sorted(counts.index) == sorted(ATTRIBUTES[attribute].index(v) for v in allowed)
        p = 1 / len(allowed)
        assert np.abs(counts / spec.n - p).max() < 5 * math.sqrt(p * (1 - p) / spec.n)


def test_attribute_names_decode_the_codes():
    spec = ShapesSpec(n=50, shapes=("star", "heart"), styles=("sketch",))
    names = attribute_names(sample_latents(spec))
    assert set(names["shape"]) == {"star", "heart"} and set(names["style"]) == {"sketch"}


def test_class_attribute_can_be_another_attribute():
    spec = ShapesSpec(n=600, class_attribute="colour", composition_attribute="shape", class_profile="power_law")
    latents = sample_latents(spec)
    assert (latents["colour"] == latents["label"]).all()  # all colours allowed, in order
    assert np.bincount(latents["label"])[0] > np.bincount(latents["label"])[-1]


def test_geometry_matches_size_and_position():
    latents = sample_latents(ShapesSpec(n=5000, rotation=20))
    base = np.array([0.30, 0.45, 0.62])[latents["size"]]
    assert np.all(np.abs(latents["scale"] / base - 1) <= 0.07 + 1e-9)
    assert latents["angle"].abs().max() <= 20
    row, col = np.divmod(latents["position"].to_numpy(), 3)
    assert (np.sign(latents["x"].round(9)) * (col != 1) == (col - 1) * (col != 1)).all()  # left cells left
    assert (np.sign(latents["y"].round(9)) * (row != 1) == (row - 1) * (row != 1)).all()  # top cells up (y down)


def test_objects_stay_inside_the_frame():
    latents = sample_latents(ShapesSpec(n=2000, sizes=("large",), rotation=45))
    masks = object_masks(latents, 32)
    border = torch.cat([masks[..., 0, :], masks[..., -1, :], masks[..., :, 0], masks[..., :, -1]], -1)
    assert border.max() < 0.05


# ---------------------------------------------------------------- held-out compositions

def test_held_out_compositions_only_in_the_test_split():
    held = (("red", "circle"), ("blue", "square"), ("green", "star"))
    spec = ShapesSpec(n=4000, held_out=held)
    train, test = sample_latents(spec), sample_latents(spec.with_split("ood"))
    pairs = {(ATTRIBUTES["colour"][c], SHAPES[s]) for c, s in zip(train["colour"], train["shape"])}
    assert not pairs & set(held)
    assert {c for c, _ in pairs} == set(COLOURS) and {s for _, s in pairs} == set(SHAPES)  # parts all seen
    test_pairs = [(ATTRIBUTES["colour"][c], SHAPES[s]) for c, s in zip(test["colour"], test["shape"])]
    assert set(test_pairs) == set(held)
    assert (test["label"] == test["shape"]).all()
    counts = pd.Series(test_pairs).value_counts()
    assert counts.min() > 4000 / 3 - 5 * math.sqrt(4000 * 2 / 9)  # uniform over the pairs


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("n_values,n_objects,n_pairs", [(8, 10, 30), (3, 3, 4), (5, 2, 3)])
def test_chosen_compositions_keep_every_value_and_object_in_training(seed, n_values, n_objects, n_pairs):
    values, objects = [f"v{i}" for i in range(n_values)], [f"o{i}" for i in range(n_objects)]
    pairs = choose_held_out(values, objects, n_pairs, seed)
    assert len(set(pairs)) == n_pairs
    check_held_out(pairs, values, objects)  # raises if a value or an object is left unseen
    seen = {(v, o) for v in values for o in objects} - set(pairs)
    assert {v for v, _ in seen} == set(values) and {o for _, o in seen} == set(objects)


def test_impossible_hold_outs_are_errors():
    with pytest.raises(ValueError, match="ask for fewer"):
        choose_held_out(["a", "b"], ["x", "y"], 3)
    with pytest.raises(ValueError, match="unseen"):
        check_held_out([("a", "x"), ("a", "y")], ["a", "b"], ["x", "y"])
    with pytest.raises(ValueError, match="unseen"):
        ShapesSpec(colours=("red", "blue"), shapes=("circle", "square"),
                   held_out=(("red", "circle"), ("blue", "circle")))
    with pytest.raises(ValueError, match="held_out"):
        ShapesSpec(split="ood")


def test_bad_specs_are_errors():
    with pytest.raises(ValueError, match="subset"):
        ShapesSpec(shapes=("circle", "blob"))
    with pytest.raises(ValueError, match="class_attribute"):
        ShapesSpec(class_attribute="mood")
    with pytest.raises(ValueError, match="differ"):
        ShapesSpec(composition_attribute="shape")


# ---------------------------------------------------------------- what the pixels look like

AREAS = {"circle": math.pi * 0.95**2, "square": 1.44**2, "triangle": math.sqrt(3) * 0.88**2, "diamond": 2 * 0.72,
         "cross": 2.4 - 0.36, "ring": math.pi * (0.95**2 - 0.55**2), "ellipse": math.pi * 0.55,
         "hexagon": 2 * math.sqrt(3) * 0.86**2}
"""Analytic areas in object units (radius ~1) of the shapes with closed forms."""


def test_rendered_shapes_have_their_analytic_areas():
    size = 64
    masks = object_masks(_centred(len(AREAS), shape=list(AREAS)), size)
    pixels_per_unit = 0.62 * size / 2
    measured = masks.sum((1, 2, 3)) / pixels_per_unit**2
    np.testing.assert_allclose(measured.numpy(), list(AREAS.values()), rtol=0.02)
    assert measured[0] / measured[1] == pytest.approx(math.pi * 0.95**2 / 1.44**2, rel=0.02)


def test_every_pair_of_shapes_is_distinguishable():
    masks = object_masks(_centred(len(SHAPES), shape=list(SHAPES)), 32).flatten(1)
    difference = torch.cdist(masks, masks, p=1) / masks.shape[1]
    off_diagonal = difference + torch.eye(len(SHAPES))
    assert off_diagonal.min() > 0.02  # at least 2% of the pixels differ between any two shapes


@pytest.mark.parametrize("colour", list(COLOURS))
def test_solid_objects_have_their_colour(colour):
    latents = _centred(2, colour=colour, texture="solid", style=["cartoon", "photo"])
    images = render(latents, 32)
    centre = images[:, :, 16, 16]
    torch.testing.assert_close(centre[0], torch.tensor(COLOURS[colour]), atol=1e-6, rtol=0)  # flat: exact
    assert (centre[1] - torch.tensor(COLOURS[colour])).abs().max() < 0.15  # shaded, noisy: close


def test_textures_vary_inside_the_object_and_solid_does_not():
    latents = _centred(4, shape="square", texture=list(ATTRIBUTES["texture"]), style="cartoon")
    images = render(latents, 64)
    inside = object_masks(latents, 64)[:, 0] > 0.999
    inside[:, :, :] &= torch.nn.functional.max_pool2d((~inside).float(), 7, 1, 3) == 0  # away from the outline
    spread = [images[i][:, inside[i]].std(1).max().item() for i in range(4)]
    assert spread[0] < 1e-6 and min(spread[1:]) > 0.1


def test_styles_differ_in_their_pixel_statistics():
    latents = sample_latents(ShapesSpec(n=400, seed=1))
    by_style = {s: render(latents.assign(style=STYLES.index(s)), 32) for s in STYLES}
    masks = object_masks(latents, 32)

    def chroma(x):  # spread across channels: 0 for grey images
        return (x.max(1).values - x.min(1).values).mean().item()

    sketch, edge = by_style["sketch"], by_style["edge"]
    assert chroma(sketch) == 0 and chroma(edge) == 0 and chroma(by_style["photo"]) > 0.1
    assert (sketch[:, 0] > 0.85).float().mean() > 0.7  # mostly paper
    assert (sketch[:, 0] < 0.6).float().mean() > 0.02  # with pencil lines
    assert (edge[:, 0] > 0.5).float().mean() < 0.15 and edge[:, 0].median() == 0  # sparse white on black
    outline = (masks > 0.05) & (masks < 0.95)
    assert edge[:, :1][outline].mean() > 0.4  # edges lie on the object's outline
    photo, noisy = by_style["photo"], by_style["noisy"]
    residual = [(x - torch.nn.functional.avg_pool2d(x, 3, 1, 1, count_include_pad=False)).std().item()
                for x in (photo, noisy, by_style["cartoon"])]
    assert residual[1] > 1.5 * residual[0] > 1.5 * 0  # noisier than the photo
    assert (noisy - photo).abs().mean() > 0.05 and np.corrcoef(photo.mean((1, 2, 3)), noisy.mean((1, 2, 3)))[0, 1] > 0.9


def test_backgrounds_differ():
    latents = _centred(5, background=list(ATTRIBUTES["background"]), style="photo").assign(scale=0.3)
    images = render(latents, 32)
    # background pixels away from the object and its shadow, smoothed to look past the sensor noise
    far = torch.nn.functional.max_pool2d(object_masks(latents, 32), 11, 1, 5)[:, 0] < 0.01
    smooth = torch.nn.functional.avg_pool2d(images.mean(1, keepdim=True), 5, 1, 2, count_include_pad=False)[:, 0]
    mean = [smooth[i][far[i]].mean().item() for i in range(5)]
    assert mean[0] > 0.8 and 0.35 < mean[1] < 0.7 and mean[2] < 0.3  # light, gray, dark
    spread = [smooth[i][far[i]].std().item() for i in range(5)]
    assert min(spread[3:]) > 3 * max(spread[:3])  # gradient and noise vary across the image


@pytest.mark.skipif(os.environ.get("CLIPBOOK_SKIP_PERF") == "1", reason="CLIPBOOK_SKIP_PERF=1")
def test_renderer_throughput():
    """At least 20,000 images/s at 32 px, all styles mixed. The renderer runs on one core, so
    images per CPU-second is its speed on an idle core, whatever else shares the machine."""
    result = benchmark_renderer(n=20_000, image_size=32)
    assert result["images_per_cpu_s"] >= 20_000, result


# ---------------------------------------------------------------- captions and tokens

def _latents(n=400):
    return sample_latents(ShapesSpec(n=n, styles=STYLES, seed=2))


def test_class_name_captions_are_the_class_words():
    latents = _latents()
    assert captions(latents, CaptionSpec(kind="class_name")) == [SHAPES[s] for s in latents["shape"]]
    assert captions(latents, CaptionSpec(kind="class_name"), "colour")[0] == ATTRIBUTES["colour"][latents["colour"][0]]


def test_template_captions_name_the_class_and_the_requested_details():
    latents = _latents()
    plain = captions(latents, CaptionSpec())
    rich = captions(latents, CaptionSpec(attributes=("colour", "texture")))
    for text, shape, colour, texture in zip(rich, latents["shape"], latents["colour"], latents["texture"]):
        assert {SHAPES[shape], ATTRIBUTES["colour"][colour], WORDS["texture"][texture]} <= set(words_of(text))
    assert all(not set(words_of(t)) & set(COLOURS) for t in plain)
    assert {t.split(" a")[0] for t in plain} > {"a photo of"}  # an ensemble of templates, not one
    assert captions(latents, CaptionSpec(seed=1)) != plain


def test_p_mention_sets_how_often_a_detail_is_described():
    latents = _latents(4000)
    texts = captions(latents, CaptionSpec(attributes=("colour",), p_mention=0.3))
    mentioned = np.mean([bool(set(words_of(t)) & set(COLOURS)) for t in texts])
    assert mentioned == pytest.approx(0.3, abs=5 * math.sqrt(0.3 * 0.7 / 4000))


def test_web_fields_switch_separately():
    latents = _latents(50)
    everything = CaptionSpec(kind="web", attributes=tuple(ATTRIBUTES), n_noise_words=3)
    full = captions(latents, everything)
    description = captions(latents, CaptionSpec(kind="web", attributes=tuple(ATTRIBUTES), title=False, tags=False))
    tags = captions(latents, CaptionSpec(kind="web", attributes=tuple(ATTRIBUTES), title=False, description=False,
                                         n_noise_words=3))
    for f, d, t in zip(full, description, tags):
        assert f.endswith(d) and d.endswith(".") and "." not in t
        assert len(words_of(t)) == len(ATTRIBUTES) + 3  # one tag per attribute, plus filler
        assert len(set(words_of(t)) & set(NOISE_WORDS)) >= 1
    assert all(d.split(" of ")[0] in ("a photo", "a sketch", "an edge map", "a cartoon", "a blurry photo")
               for d in description)


def test_web_captions_can_leave_out_the_class():
    latents = _latents(2000)
    texts = captions(latents, CaptionSpec(kind="web", p_class=0.25))
    named = np.mean([SHAPES[s] in words_of(t) for t, s in zip(texts, latents["shape"])])
    assert named == pytest.approx(0.25, abs=0.05)


def test_filler_never_names_an_attribute():
    attribute_words = {w for table in WORDS.values() for w in table}
    assert not attribute_words & set(NOISE_WORDS)


def test_zero_shot_prompts_use_the_right_article():
    prompts = zero_shot_prompts(["circle", "ellipse"])
    assert len(prompts) == 2 and len(prompts[0]) == len(TEMPLATES)
    assert prompts[0][0] == "a photo of a circle." and prompts[1][0] == "a photo of an ellipse."


def test_tokenizer_round_trip_and_layout():
    tok = WordTokenizer()
    latents = _latents(100)
    texts = [t for spec in (CaptionSpec(kind="class_name"), CaptionSpec(attributes=tuple(ATTRIBUTES)),
                            CaptionSpec(kind="web", attributes=tuple(ATTRIBUTES), n_noise_words=4))
             for t in captions(latents, spec)]
    tokens = tok(texts)
    assert tokens.shape == (len(texts), tok.context_length) and tokens.dtype == torch.long
    assert tok.decode(tokens) == [" ".join(words_of(t)) for t in texts]  # nothing cut, nothing unknown
    assert (tokens != tok.UNKNOWN).all() and (tokens[:, 0] == tok.sot_token_id).all()
    end = tokens.argmax(-1)  # open_clip pools the text tower at the argmax token
    assert (tokens[torch.arange(len(texts)), end] == tok.eot_token_id).all()
    assert (tokens.gather(1, end[:, None] + 1).squeeze(1) == 0).all() or end.max() == tok.context_length - 1


def test_tokenizer_unknown_words_truncation_and_single_strings():
    tok = WordTokenizer(context_length=6)
    single = tok("a zebra circle")
    assert single.shape == (1, 6)
    assert single[0].tolist() == [tok.START, tok.ids["a"], tok.UNKNOWN, tok.ids["circle"], tok.eot_token_id, 0]
    long = tok(["a photo of a small red circle"])
    assert long[0, -1] == tok.eot_token_id and tok.decode(long) == ["a photo of a"]
    assert tok(["circle"], context_length=3).shape == (1, 3)
    assert tok.vocab_size == len(vocabulary()) + 4
