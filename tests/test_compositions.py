"""Chapter 5's world: the Latin-square hold-out, dependent pairs, caption NMI."""

import math
from collections import Counter

import numpy as np
import pytest

from clipbook.data.compositions import (CompositionWorld, caption_nmi, latin_square_held_out, partner,
                                        tie_to_partners, training_pairs, unseen_compositions)
from clipbook.data.shapes import ATTRIBUTES, sample_latents

VALUES, OBJECTS = ("a", "b", "c", "d"), ("w", "x", "y", "z")


@pytest.mark.parametrize("coverage, k", [(1.0, 0), (0.75, 1), (0.5, 2), (0.25, 3)])
def test_the_latin_square_removes_k_partners_from_every_value_and_object(coverage, k):
    held = latin_square_held_out(VALUES, OBJECTS, coverage, seed=3)
    assert len(set(held)) == len(held) == k * 4
    assert all(Counter(v for v, _ in held)[v] == k for v in VALUES)
    assert all(Counter(o for _, o in held)[o] == k for o in OBJECTS)


def test_the_hold_out_depends_on_the_seed_and_refuses_what_leaves_nothing():
    assert latin_square_held_out(VALUES, OBJECTS, 0.5, 0) != latin_square_held_out(VALUES, OBJECTS, 0.5, 1)
    with pytest.raises(ValueError, match="no training partner"):
        latin_square_held_out(VALUES, OBJECTS, 0.1)
    with pytest.raises(ValueError, match="as many values as objects"):
        latin_square_held_out(VALUES, OBJECTS[:3], 0.5)


def test_partners_are_seen_and_distinct():
    held = latin_square_held_out(VALUES, OBJECTS, 0.25, seed=0)  # one seen partner each: the matching is forced
    matched = partner(VALUES, OBJECTS, held)
    assert sorted(matched.values()) == sorted(VALUES)
    assert all((v, o) not in held for o, v in matched.items())
    seen = [(v, o) for v in VALUES for o in OBJECTS if (v, o) not in held]
    assert matched == {o: v for v, o in seen}


def test_tied_pairs_keep_coverage_and_marginals_and_raise_dependence():
    world = CompositionWorld(n_train=8000)
    spec = world.spec(0.75, seed=0)
    free = sample_latents(spec)
    tied = tie_to_partners(free, spec, 0.8)
    names = dict(enumerate(ATTRIBUTES["colour"]))
    pairs = {(names[c], ATTRIBUTES["shape"][s]) for c, s in zip(tied["colour"], tied["shape"])}
    assert pairs == {(c, s) for c in world.colours for s in world.shapes} - set(spec.held_out)
    # each colour is one shape's partner: its share stays 1/8 (binomial sd 0.004 at n = 8000; 5 sd)
    shares = tied.colour.value_counts(normalize=True)
    assert np.allclose(shares, 1 / 8, atol=0.02)
    # P(partner | shape) = 0.8 + 0.2 / 6 (the untied draws hit the partner too)
    matched = partner(world.colours, world.shapes, spec.held_out)
    hit = np.mean([names[c] == matched[ATTRIBUTES["shape"][s]] for c, s in zip(tied["colour"], tied["shape"])])
    assert hit == pytest.approx(0.8 + 0.2 / 6, abs=0.02)
    assert (tied.drop(columns="colour") == free.drop(columns="colour")).all().all()


def test_caption_nmi_known_answers():
    independent = [f"a {v} {o}." for v in ("red", "blue") for o in ("circle", "square")]
    assert caption_nmi(independent) == pytest.approx(0.0, abs=1e-12)
    assert caption_nmi(["a red circle.", "a blue square."]) == pytest.approx(1.0)
    # captions naming no attribute, or two, are left out
    assert caption_nmi(["a red circle.", "a blue square.", "a circle.", "a red blue square."]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="exactly one"):
        caption_nmi(["a circle."])


def test_caption_nmi_rises_with_dependence_at_fixed_coverage():
    world = CompositionWorld(n_train=2000)
    free = caption_nmi(training_pairs(world, 0.75, 0.0, 1.0, 0).captions)
    tied = caption_nmi(training_pairs(world, 0.75, 0.8, 1.0, 0).captions)
    assert tied > free + 0.3


def test_unseen_compositions_show_only_held_out_pairs_evenly():
    world = CompositionWorld(n_test=320)
    test = unseen_compositions(world, 0.75, seed=2)
    held = set(world.held_out(0.75, 2))
    factors = test.factors(world)
    pairs = Counter((world.colours[a], world.shapes[o]) for a, o in factors)
    assert set(pairs) == held
    assert max(pairs.values()) - min(pairs.values()) < 4 * math.sqrt(320 / 16)
    assert test.images.shape == (320, 3, 32, 32)
