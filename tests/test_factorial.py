"""The fractional factorial: its runs, resolution, alias chains, effects and their control."""

import numpy as np
import pandas as pd
import pytest

from clipbook.evaluate import factorial

KNOBS = ["A", "B", "C", "D", "E", "F"]
HALF_FRACTION = ["a", "b", "c", "d", "abc", "bcd"]


def test_the_design_is_balanced_and_of_resolution_four():
    runs = factorial.design(KNOBS, HALF_FRACTION)
    assert runs.shape == (16, 6)
    assert (runs.sum() == 0).all()  # every knob at each level in half the runs
    assert (runs.T @ runs == 16 * np.eye(6)).all().all()  # main effects orthogonal
    assert factorial.resolution(runs) == 4
    assert (runs.E == runs.A * runs.B * runs.C).all() and (runs.F == runs.B * runs.C * runs.D).all()


def test_resolution_of_a_full_factorial_and_of_a_resolution_three_design():
    assert factorial.resolution(factorial.design(["A", "B", "C"], ["a", "b", "c"])) == 4
    assert factorial.resolution(factorial.design(["A", "B", "C"], ["a", "b", "ab"])) == 3


def test_alias_chains_name_the_confounded_interactions():
    chains = factorial.alias_chains(factorial.design(KNOBS, HALF_FRACTION))
    assert list(chains[chains.order == 1].term) == KNOBS and (chains[chains.order == 1].aliases == "").all()
    pairs = dict(zip(chains.term, chains.aliases))
    assert pairs["A x D"] == "E x F" and pairs["B x D"] == "C x F"
    assert set(pairs["A x E"].split(", ")) == {"B x C", "D x F"}
    assert len(chains[chains.order == 2]) == 7  # 15 two-way interactions in 7 chains


def test_effects_recover_planted_main_effects_and_interactions_exactly_without_noise():
    runs = factorial.design(KNOBS, HALF_FRACTION)
    y = 0.3 + 0.1 / 2 * runs.D - 0.04 / 2 * runs.A + 0.06 / 2 * runs.A * runs.D
    frame = pd.concat([runs.assign(seed=s, y=y + s) for s in range(3)])
    found = factorial.effect_intervals(factorial.effects(frame, "y", ["A", "B", "D", "A x D", "B x D"]))
    assert found["D"].mean == pytest.approx(0.1) and found["A"].mean == pytest.approx(-0.04)
    assert found["A x D"].mean == pytest.approx(0.06)
    assert found["B"].mean == pytest.approx(0) and found["B x D"].mean == pytest.approx(0)
    assert found["D"].n == 3


def test_the_planted_effects_control_passes_a_visible_effect_and_fails_an_invisible_one():
    runs = factorial.design(KNOBS, HALF_FRACTION)
    seen = factorial.planted_effects_control(runs, {"D": 0.05, "A x D": 0.05}, 3, noise=0.01)
    assert seen.passed is True, seen
    drowned = factorial.planted_effects_control(runs, {"D": 0.05}, 3, noise=1.0)
    assert drowned.passed is False, drowned


def test_bad_designs_are_refused():
    with pytest.raises(ValueError, match="one generator per knob"):
        factorial.design(KNOBS, HALF_FRACTION[:5])
