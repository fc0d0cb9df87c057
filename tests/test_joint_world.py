"""Chapter 7's joint world: what each knob changes in the data, and the test sets."""

import numpy as np
import pytest

from clipbook.data.diversity import ID
from clipbook.data.compositions import composition_pairs
from clipbook.data.joint import UNSEEN_COMPOSITIONS, JointWorld
from clipbook.data.shapes import ATTRIBUTES, ShapesSpec, sample_latents

WORLD = JointWorld(n_train=800, n_test=64)
LOW = dict(within_captions=-1, detail_captions=-1, negatives=-1, diversity=-1, coverage=-1, long_tail=-1)


def test_captions_name_what_the_caption_knobs_say():
    plain = WORLD.training_set(LOW, 3).captions
    rich = WORLD.training_set(LOW | {"within_captions": 1, "detail_captions": 1}, 3).captions
    textures = ("plain", "striped", "dotted", "checkered")
    assert not any(t in c for c in plain for t in textures)
    assert sum(any(t in c for t in textures) for c in rich) == len(rich)
    assert sum(c != r for c, r in zip(plain, rich)) == len(plain)


def test_each_class_has_its_own_texture_more_often_than_chance():
    spec = WORLD.spec(3, 2000, ("photo",), ())
    latents = sample_latents(spec)
    own = latents.label % len(WORLD.textures)
    texture = latents.texture.map(lambda c: WORLD.textures.index(ATTRIBUTES["texture"][c]))
    assert (texture == own).mean() == pytest.approx(0.6 + 0.4 / 4, abs=0.04)


def test_a_detail_on_another_attribute_combines_with_held_out_compositions():
    spec = ShapesSpec(n=50, p_own=0.5, detail_attribute="texture", held_out=(("red", "circle"),))
    assert spec.detail == "texture"
    with pytest.raises(ValueError, match="p_own"):
        ShapesSpec(p_own=0.5, held_out=(("red", "circle"),))


def test_diversity_long_tail_and_coverage_change_the_training_data():
    narrow = WORLD.training_set(LOW, 3)
    diverse = WORLD.training_set(LOW | {"diversity": 1}, 3)
    assert not np.allclose(narrow.images.numpy(), diverse.images.numpy())
    counts = WORLD.training_set(LOW | {"long_tail": 1}, 3).labels.bincount()
    assert counts[0] > 5 * counts[-1] and (narrow.labels.bincount() == 100).all()
    assert set(WORLD.held_out(3, 0.75)) < set(WORLD.held_out(3, 0.5))  # nested hold-outs


def test_test_sets_share_the_seed_class_order_and_hold_what_no_run_saw():
    tests = WORLD.test_sets(3)
    assert set(tests) == {ID, "edge", "noisy", UNSEEN_COMPOSITIONS}
    classes = WORLD.classes(3)
    for data in tests.values():  # a label names the class the image shows
        shown = data.latents["shape"].map(lambda c: ATTRIBUTES["shape"][c])
        assert (shown == [classes[i] for i in data.labels]).all()
    assert set(composition_pairs(tests[UNSEEN_COMPOSITIONS])) <= set(WORLD.held_out(3, 0.75))
    assert not set(composition_pairs(tests[ID])) & set(WORLD.held_out(3, 0.5))


def test_the_unseen_styles_are_unseen():
    with pytest.raises(ValueError, match="no training distribution"):
        JointWorld(unseen_styles=("sketch",))
