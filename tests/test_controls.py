"""Each instrument's control passes on the book's metric and fails on a metric that cannot see
the planted effect: a control that cannot fail would vouch for anything."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from clipbook.data.views import ViewSpec
from clipbook.evaluate import controls
from clipbook.evaluate.disentanglement import dcimig, rankme, z_diff
from clipbook.evaluate.rules import Control


def test_the_control_table_reads_one_row_per_instrument():
    table = controls.control_table({"a": Control("planted", True, "0.9"), "b": Control("p", None, "no data")})
    assert table.to_dict("index") == {"a": {"control": "planted", "measured": "0.9", "outcome": "passed"},
                                      "b": {"control": "p", "measured": "no data", "outcome": "not run"}}
    assert controls.control_table({"c": Control("x", False, "y")}).loc["c", "outcome"] == "failed"


def test_signal_share_control(monkeypatch):
    ok = controls.signal_share_control(2)
    assert ok == Control("classifiers that read one block, the other, or both: shares 1, 0, 0.5", True,
                         "1.000, 0.000, 0.500")
    assert controls.signal_share_control(4, block=2).passed
    monkeypatch.setattr(controls, "signal_share", lambda w, e, part, other, a, b: torch.full((len(w),), 0.5))
    broken = controls.signal_share_control(2)
    assert broken.passed is False and broken.measured == "0.500, 0.500, 0.500"


def test_condition_number_control(monkeypatch):
    ok = controls.condition_number_control()
    assert ok.passed and ok.name == "rotated matrices of condition number 1, 10, 10000"
    assert ok.measured == "1, 10, 1e+04"
    monkeypatch.setattr(controls, "condition_number", lambda m: torch.ones(len(m), dtype=m.dtype))  # blind
    assert controls.condition_number_control().passed is False


def test_matching_control(monkeypatch):
    ok = controls.matching_control(ViewSpec(), 64)
    assert ok.passed and ok.name == "encoders of condition number 1, 100, 10000 matched in the shifted world"
    monkeypatch.setattr(controls, "matching_accuracy", lambda a, b, c: torch.tensor(0.5))  # blind
    assert controls.matching_control(ViewSpec(), 64).passed is False


def test_effective_robustness_control(monkeypatch):
    ids = np.linspace(0.3, 0.9, 12)
    oods = np.linspace(0.1, 0.6, 12)
    ok = controls.effective_robustness_control(ids, oods, 0.05)
    assert ok.passed and ok.measured == "ER 0.050 (planted 0.05); on the line 0.000"
    assert ok.name == "twins of the baseline models 0.05 above the line"

    class Flat:  # a read-out that ignores OOD accuracy
        def predict(self, x):
            return np.full(len(np.asarray(x)), 0.3)

        def effective_robustness(self, x, y):
            return np.zeros(len(np.asarray(x)))

    monkeypatch.setattr(controls, "fit_baseline", lambda x, y: Flat())
    assert controls.effective_robustness_control(ids, oods, 0.05).passed is False


def test_effective_robustness_control_needs_room_above_the_line():
    full = controls.effective_robustness_control([0.3, 0.9], [0.97, 0.99], 0.05)
    assert full.passed is False and full.measured.startswith("no baseline model leaves room")


def _lines(seeds=4):
    rng = np.random.default_rng(0)
    rows = [{"seed": s, "id_accuracy": x, "ood_accuracy": 0.5 * x + 0.01 * rng.normal()}
            for s in range(seeds) for x in (0.3, 0.5, 0.7, 0.9)]
    return pd.DataFrame(rows)


def test_line_gap_control(monkeypatch):
    ok = controls.line_gap_control(_lines(), 0.02, 0.6)
    assert ok.passed and ok.measured.startswith("gap 0.02") and "; unchanged " in ok.measured
    assert ok.name == "the run's checkpoints copied 0.02 higher, and unchanged"
    from clipbook.evaluate.stats import Interval

    monkeypatch.setattr(controls, "line_gap", lambda a, b, at, n_boot: Interval(0.0, -0.01, 0.01, 4))
    assert controls.line_gap_control(_lines(), 0.02, 0.6).passed is False


def test_frequency_correlation_control(monkeypatch):
    ok = controls.frequency_correlation_control(np.geomspace(1000, 5, 100))
    assert ok.passed and ok.name == "a classifier biased towards frequent classes against a fair one"
    assert ok.measured.startswith("rho accuracy ")
    from clipbook.evaluate.imbalance import FrequencyCorrelations

    monkeypatch.setattr(controls, "frequency_correlations", lambda c, f: FrequencyCorrelations(0.1, 0.1))
    assert controls.frequency_correlation_control(np.geomspace(1000, 5, 100)).passed is False


def test_composition_codes_have_the_structure_they_claim():
    factors = np.array([(a, o) for a in range(4) for o in range(4)] * 10)
    additive = controls.composition_codes(factors, 8, 0.0, noise=0.0)
    # additive and axis-aligned: colour in the first half of the dimensions, shape in the second
    same_colour = additive[factors[:, 0] == 0]
    assert np.allclose(same_colour[:, :4], same_colour[0, :4])
    same_shape = additive[factors[:, 1] == 0]
    assert np.allclose(same_shape[:, 4:], same_shape[0, 4:])
    entangled = controls.composition_codes(factors, 8, 1.0, noise=0.0)
    assert not np.allclose(entangled[factors[:, 0] == 0][:, :4], entangled[factors[:, 0] == 0][0, :4])
    assert np.allclose(entangled[:16], entangled[16:32])  # one code per composition
    noisy = controls.composition_codes(factors, 8, 0.0, noise=0.1)
    assert 0.05 < np.std(noisy - additive) < 0.2 and controls.composition_codes(factors, 8, 0.5).shape == (160, 8)


def _two_metrics(codes, factors):
    return {"dcimig": dcimig(codes, factors), "z_diff": z_diff(codes, factors, n_train=300, n_eval=200)}


def test_disentanglement_controls_pass_a_metric_that_orders_the_codes_and_fail_one_that_does_not():
    rng = np.random.default_rng(0)
    pairs = [(a, (a * 3 + b) % 8) for a in range(8) for b in range(2)]
    factors = np.array([pairs[i] for i in rng.integers(len(pairs), size=240)])
    found, table = controls.disentanglement_controls(factors, 16, ["dcimig", "z_diff"], _two_metrics)
    assert list(table.columns) == ["additive", "half mixed", "entangled"] and list(table.index) == ["dcimig", "z_diff"]
    assert found["dcimig"].passed and not found["z_diff"].passed
    assert found["dcimig"].name == "dcimig on additive > half mixed > entangled codes (by 0.1 or more)"
    assert found["z_diff"].measured.startswith("additive 1.000, half mixed ")


@pytest.mark.parametrize("scores, passes", [((0.5, 0.45, 0.39), True), ((0.5, 0.45, 0.41), False),
                                             ((0.5, 0.55, 0.3), False), ((0.5, 0.2, 0.3), False),
                                             ((0.75, 0.75, 0.5), True), ((0.75, 0.5, 0.5), True)])
def test_a_metric_passes_only_ordered_and_separated(scores, passes):
    additive, mixed, entangled = scores
    values = iter([{"m": additive}, {"m": mixed}, {"m": entangled}])
    found, _ = controls.disentanglement_controls(np.zeros((4, 2), int) + [[0, 0], [0, 1], [1, 0], [1, 1]], 4, ["m"],
                                                 lambda codes, factors: next(values))
    assert found["m"].passed is passes


def test_effective_rank_control(monkeypatch):
    ok = controls.effective_rank_control(rankme, 8)
    assert ok.passed and ok.name == "codes of rank 1, 2, 4, 8"
    assert controls.effective_rank_control(rankme, 64).name == "codes of rank 1, 2, 4, 8, 16, 32, 64"
    assert not controls.effective_rank_control(lambda codes: 3.0, 8).passed


READINGS = Path(__file__).with_name("control_readings.txt")
"""What each control reads on fixed inputs (its construction's exact numbers): a change to how a
control builds its planted effect shows here. Regenerated by ``python tests/test_controls.py``."""


def _readings() -> list[str]:
    rng = np.random.default_rng(0)
    pairs = [(a, (a * 3 + b) % 8) for a in range(8) for b in range(2)]
    factors = np.array([pairs[i] for i in rng.integers(len(pairs), size=240)])
    found, table = controls.disentanglement_controls(factors, 16, ["dcimig", "z_diff"], _two_metrics, seed=3)
    codes = controls.composition_codes(factors[:6], 4, 0.25, noise=0.05, seed=2)
    _, default_seed = controls.disentanglement_controls(factors, 16, ["dcimig"], _two_metrics)
    return [str(c) for c in (controls.signal_share_control(3), controls.condition_number_control((2.0, 50.0), dim=5),
                             controls.effective_robustness_control(np.linspace(0.3, 0.9, 7), np.linspace(0.1, 0.5, 7), 0.04),
                             controls.line_gap_control(_lines(3), 0.03, 0.55, n_boot=50),
                             controls.frequency_correlation_control(np.geomspace(500, 2, 40), per_class=20, seed=4),
                             controls.frequency_correlation_control([10, 1], per_class=30),
                             controls.effective_rank_control(rankme, 6, n=200, seed=5), *found.values(),
                             controls.matching_control(ViewSpec(latent_dim=4, dim_a=8, dim_b=8), 16, n=512, seed=2),
                             # the defaults a chapter relies on: draws, sizes and seeds
                             controls.frequency_correlation_control(np.geomspace(500, 2, 40)),
                             controls.effective_rank_control(rankme, 6), controls.line_gap_control(_lines(3), 0.03, 0.55))] + \
        [table.round(6).to_csv(), default_seed.round(6).to_csv(), np.array2string(codes, precision=6)]


def test_the_controls_read_as_recorded():
    assert "\n".join(_readings()) + "\n" == READINGS.read_text()


if __name__ == "__main__":
    READINGS.write_text("\n".join(_readings()) + "\n")


def test_the_controls_tolerate_what_they_say_and_no_less(monkeypatch):
    from clipbook.evaluate.readout import signal_share
    from clipbook.evaluate.spectral import condition_number

    monkeypatch.setattr(controls, "signal_share", lambda *a: signal_share(*a) * 0.995 + 0.0025)
    assert controls.signal_share_control(2).passed  # within 0.01 of 1, 0, 0.5
    monkeypatch.setattr(controls, "condition_number", lambda m: condition_number(m) * 1.005)
    assert controls.condition_number_control().passed  # within 1%


def test_a_metric_separated_by_exactly_the_bar_passes():
    values = iter([{"m": 0.1}, {"m": 0.05}, {"m": 0.0}])
    found, _ = controls.disentanglement_controls(np.array([[0, 0], [0, 1], [1, 0], [1, 1]]), 4, ["m"],
                                                 lambda codes, factors: next(values))
    assert found["m"].passed


def test_the_effective_robustness_control_checks_the_line_as_well_as_the_twins(monkeypatch):
    from clipbook.evaluate.robustness import fit_baseline

    class Shifted:  # reads the twins right and the models on the line 0.02 off
        def __init__(self, line):
            self.line = line

        def predict(self, x):
            return self.line.predict(x)

        def effective_robustness(self, x, y):
            er = self.line.effective_robustness(x, y)
            return er + np.where(np.abs(er) < 1e-9, 0.02, 0.0)

    monkeypatch.setattr(controls, "fit_baseline", lambda x, y: Shifted(fit_baseline(x, y)))
    shifted = controls.effective_robustness_control(np.linspace(0.3, 0.9, 12), np.linspace(0.1, 0.6, 12), 0.05)
    assert shifted.passed is False and shifted.measured == "ER 0.050 (planted 0.05); on the line 0.020"
    full = controls.effective_robustness_control([0.3, 0.9], [0.97, 0.99], 0.05)
    assert full.name == "twins of the baseline models 0.05 above the line"


@pytest.mark.parametrize("seen, null, passes", [
    ((0.1, 0.05, 0.15), (0.0, -0.01, 0.01), False),  # far from the planted 0.02, however clear
    ((0.02, 0.0, 0.04), (0.0, -0.01, 0.01), False),  # the planted gap not above zero
    ((0.02, 0.01, 0.03), (0.0, 0.0, 0.01), True),  # the unchanged copy's interval touching zero holds it
    ((0.02, 0.01, 0.03), (0.0, -0.01, 0.0), True),
    ((0.02, 0.01, 0.03), (0.01, 0.001, 0.02), False),  # the unchanged copy off zero
])
def test_the_line_gap_control_needs_the_planted_gap_and_nothing_where_none_was_planted(monkeypatch, seen, null, passes):
    from clipbook.evaluate.stats import Interval

    answers = iter([Interval(*seen, 4), Interval(*null, 4)])
    monkeypatch.setattr(controls, "line_gap", lambda a, b, at, n_boot: next(answers))
    assert controls.line_gap_control(_lines(), 0.02, 0.6).passed is passes


@pytest.mark.parametrize("biased, fair, passes", [
    ((0.9, 0.2), (0.1, 0.1), False),  # predictions not separated
    ((0.2, 0.9), (0.1, 0.1), False),  # accuracy not separated
    ((0.4, 0.9), (0.3, 0.1), False),  # the sum would pass, the difference does not
    ((0.9, 0.4), (0.1, 0.3), False),
    ((0.75, 0.75), (0.25, 0.25), True),  # separated by exactly the bar
])
def test_the_frequency_control_needs_both_correlations_separated(monkeypatch, biased, fair, passes):
    from clipbook.evaluate.imbalance import FrequencyCorrelations

    answers = iter([FrequencyCorrelations(*biased), FrequencyCorrelations(*fair)])
    monkeypatch.setattr(controls, "frequency_correlations", lambda c, f: next(answers))
    assert controls.frequency_correlation_control(np.geomspace(1000, 5, 10)).passed is passes


def test_the_effective_rank_control_reads_powers_of_two_up_to_the_dimension():
    assert controls.effective_rank_control(rankme, 100, n=200).name == "codes of rank 1, 2, 4, 8, 16, 32, 64, 100"
