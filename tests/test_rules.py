"""The three-way decision: known answers at every boundary, and power against a simulation."""

import math

import numpy as np
import pytest
from scipy import stats

from clipbook.evaluate.power import (one_sided_power, poisson_binomial_at_least, seeds_needed, seeds_to_decide,
                                     sign_test_decides, sign_test_seeds, standard_error)
from clipbook.evaluate.rules import (NOT_REPRODUCED, REPRODUCED, UNDECIDED, Above, AtLeast, Below, Control, Decision,
                                     Significant, Within, all_of, gate, joint, not_run)
from clipbook.evaluate.stats import Interval, mean_ci

RULE = Above(0.0, 0.05, "a stated value")


def test_a_clear_effect_below_the_smallest_of_interest_is_reproduced_and_says_so():
    small = RULE.decide(Interval(0.02, 0.01, 0.03, 5))
    assert small.verdict == REPRODUCED and "smaller than the smallest effect of interest" in small.diagnosis


def test_above_reads_the_lower_bound_not_the_mean():
    assert RULE.decide(Interval(0.06, 0.001, 0.12, 5)).verdict == REPRODUCED
    assert RULE.decide(Interval(0.06, -0.001, 0.12, 5)).verdict == UNDECIDED  # mean above, bound below
    assert RULE.decide(Interval(0.06, 0.0, 0.12, 5)).verdict == UNDECIDED  # strictly above


def test_not_reproduced_needs_the_interval_to_rule_out_the_smallest_effect():
    assert RULE.decide(Interval(-0.02, -0.04, 0.049, 5)).verdict == NOT_REPRODUCED
    assert RULE.decide(Interval(-0.02, -0.04, 0.05, 5)).verdict == UNDECIDED  # reaches the smallest effect
    undecided = RULE.decide(Interval(0.0, -0.04, 0.06, 5))
    assert undecided.verdict == UNDECIDED and "reaches 0 and 0.05" in undecided.why and "seeds would decide" in undecided.why


def test_below_mirrors_above():
    rule = Below(0.0, -0.1, "the paper's effect")
    assert rule.decide(Interval(-0.2, -0.3, -0.01, 5)).verdict == REPRODUCED
    assert rule.decide(Interval(-0.2, -0.3, 0.0, 5)).verdict == UNDECIDED
    assert rule.decide(Interval(0.0, -0.09, 0.1, 5)).verdict == NOT_REPRODUCED
    assert rule.decide(Interval(0.0, -0.1, 0.1, 5)).verdict == UNDECIDED
    assert "below 0" in rule.text() and "wholly above -0.1" in rule.text()


def test_a_bound_claim_decides_on_the_bound_and_computes_power_elsewhere():
    rule = Below(0.05, 0.05, "the bound itself", power_at=0.0)
    assert rule.decide(Interval(0.01, 0.0, 0.04, 5)).verdict == REPRODUCED
    assert rule.decide(Interval(0.07, 0.051, 0.09, 5)).verdict == NOT_REPRODUCED
    assert rule.decide(Interval(0.04, 0.03, 0.06, 5)).verdict == UNDECIDED
    with pytest.raises(ValueError, match="power_at"):
        Below(0.05, 0.05, "no alternative")


def test_the_smallest_effect_must_lie_beyond_the_threshold():
    with pytest.raises(ValueError, match="smallest effect"):
        Above(0.1, 0.05, "")
    with pytest.raises(ValueError, match="smallest effect"):
        Below(-0.1, -0.05, "")


@pytest.mark.parametrize("bad, why", [
    (Interval(math.nan, 0.1, 0.2, 3), "not a number"),
    (Interval(0.15, 0.1, math.nan, 3), "not a number"),
    (Interval(0.15, 0.1, math.inf, 3), "not a number"),
    (Interval(0.15, 0.1, 0.2, 1), "fewer than two"),
    (Interval(0.15, 0.1, 0.2, 3, missing=2), "2 of 5 values are missing"),
    (Interval(0.3, 0.1, 0.2, 3), "does not contain"),
    (math.nan, "not an interval"),
    (0.5, "not an interval"),
])
def test_a_statistic_that_is_not_a_number_is_undecided(bad, why):
    for rule in (RULE, Within(0.05, "stated", what="90% CI")):
        decision = rule.decide(bad._replace(confidence=rule.confidence) if isinstance(bad, Interval) else bad)
        assert decision.verdict == UNDECIDED and why in decision.why


def test_a_rule_refuses_an_interval_at_another_confidence():
    with pytest.raises(ValueError, match="95%"):
        RULE.decide(mean_ci([0.1, 0.2, 0.3], 0.90))
    with pytest.raises(ValueError, match="90%"):
        Within(0.05, "").decide(mean_ci([0.1, 0.2, 0.3]))


def test_zero_spread_is_no_estimate_unless_the_sign_test_decides():
    assert Within(0.05, "").decide(mean_ci([0.049, 0.049], 0.90)).verdict == UNDECIDED  # the audit's case
    five = RULE.decide(mean_ci([1.0] * 5))
    assert five.verdict == UNDECIDED and "exact sign test, which needs 6 seeds" in five.why
    assert RULE.decide(mean_ci([1.0] * 6)).verdict == REPRODUCED
    assert RULE.decide(mean_ci([-0.01] * 6)).verdict == NOT_REPRODUCED
    assert not sign_test_decides(Interval(1, 1, 1, 5)) and sign_test_decides(Interval(1, 1, 1, 6))
    assert sign_test_seeds(0.95) == 6 and sign_test_seeds(0.90) == 5
    assert math.isnan(RULE.decide(mean_ci([1.0] * 6)).power)


def test_equivalence_is_tost_on_the_90_percent_interval():
    rule = Within(0.05, "stated")
    assert rule.decide(Interval(0.0, -0.049, 0.049, 5, 0.90)).verdict == REPRODUCED
    assert rule.decide(Interval(0.0, -0.05, 0.049, 5, 0.90)).verdict == UNDECIDED
    assert rule.decide(Interval(0.1, 0.05, 0.2, 5, 0.90)).verdict == NOT_REPRODUCED
    assert rule.decide(Interval(-0.1, -0.2, -0.05, 5, 0.90)).verdict == NOT_REPRODUCED
    assert rule.decide(Interval(-0.1, -0.2, -0.049, 5, 0.90)).verdict == UNDECIDED


def _simulated_power(rule: Above, sd: float, n: int, draws: int = 40_000) -> float:
    """How often the rule says reproduced on normal samples whose mean is the rule's power point."""
    x = np.random.default_rng(1).normal(rule.target, sd, size=(draws, n))
    half = stats.t.ppf(0.975, n - 1) * x.std(axis=1, ddof=1) / np.sqrt(n)
    lo, hi = x.mean(axis=1) - half, x.mean(axis=1) + half
    return float(np.mean(lo > rule.threshold) if rule.sign > 0 else np.mean(hi < rule.threshold))


@pytest.mark.parametrize("rule, sd, n", [(RULE, 0.04, 5), (RULE, 0.02, 3), (Below(0.0, -0.1, ""), 0.15, 8)])
def test_power_matches_a_simulation(rule, sd, n):
    # an interval whose spread is exactly sd: a sample rescaled to that standard deviation
    values = np.linspace(-1, 1, n)
    values = values / values.std(ddof=1) * sd
    interval = mean_ci(values)
    assert math.isclose(standard_error(interval) * math.sqrt(n), sd, rel_tol=1e-9)
    assert rule.power(interval) == pytest.approx(_simulated_power(rule, sd, n), abs=0.01)


def test_seeds_needed_is_where_power_reaches_the_target():
    assert one_sided_power(0.05, 0.04, 10) > one_sided_power(0.05, 0.04, 5)
    n = seeds_needed(lambda k: one_sided_power(0.05, 0.04, k))
    assert one_sided_power(0.05, 0.04, n) >= 0.8 > one_sided_power(0.05, 0.04, n - 1)
    assert seeds_needed(lambda k: 0.0) is None and seeds_needed(lambda k: math.nan) is None
    decision = RULE.decide(Interval(0.02, -0.01, 0.05, 5))
    assert decision.needed == seeds_needed(lambda k: RULE.power(Interval(0.02, -0.01, 0.05, 5), k))


def test_an_undecided_claim_says_how_many_seeds_would_decide_it_at_its_mean_and_spread():
    x = Interval(0.02, -0.01, 0.05, 5)  # half-width 0.03; the mean is 0.02 from 0 and 0.03 from 0.05
    n = seeds_to_decide(x, 0.03)
    sd = standard_error(x) * math.sqrt(5)
    half = lambda k: stats.t.ppf(0.975, k - 1) * sd / math.sqrt(k)  # noqa: E731
    assert half(n) < 0.03 <= half(n - 1) and n > 5
    assert f"about {n} seeds would decide it at this mean and spread" in RULE.decide(x).why
    assert seeds_to_decide(x, 0.0) is None
    centred = Within(0.05, "").decide(Interval(0.04, 0.0, 0.08, 5, 0.90))
    assert f"about {seeds_to_decide(Interval(0.04, 0.0, 0.08, 5, 0.90), 0.01)} seeds" in centred.why


def test_equivalence_power_rises_with_seeds_and_gives_the_seeds_needed():
    rule = Within(0.05, "")
    x = Interval(0.0, -0.04, 0.04, 5, 0.90)
    assert rule.power(x, 20) > rule.power(x)
    assert rule.power(x, rule.decide(x).needed) >= 0.8


def test_a_failed_control_makes_the_claim_undecided_instrument():
    ok, bad = Control("sees a planted effect", True, "0.9"), Control("sees a planted effect", False, "0.0")
    assert RULE.decide(Interval(0.1, 0.05, 0.15, 5), control=ok).verdict == REPRODUCED
    failed = RULE.decide(Interval(-0.1, -0.15, -0.05, 5), control=bad)
    assert failed.verdict == UNDECIDED and failed.why.startswith("instrument: sees a planted effect: failed")
    assert gate(Decision(REPRODUCED, "r", "m"), Control("c", None, "not run")).verdict == UNDECIDED


def test_a_conjunction_fails_on_one_part_and_waits_on_an_undecided_one():
    yes, no, maybe = (RULE.decide(i) for i in (Interval(0.1, 0.05, 0.15, 5), Interval(-0.1, -0.15, -0.05, 5),
                                                Interval(0.02, -0.01, 0.05, 5)))
    assert all_of({"x": yes, "y": yes}).verdict == REPRODUCED
    assert all_of({"x": yes, "y": no}).verdict == NOT_REPRODUCED  # one arm failing
    assert all_of({"x": no, "y": maybe}).verdict == NOT_REPRODUCED
    both = all_of({"x": yes, "y": maybe})
    assert both.verdict == UNDECIDED and both.why.startswith("y: ")
    assert both.power == pytest.approx(yes.power * maybe.power)
    assert both.needed == max(yes.needed, maybe.needed)


def test_at_least_k_counts_reproduced_and_what_could_still_be():
    rule = AtLeast(3, RULE)
    up, down, open_ = Interval(0.1, 0.05, 0.15, 5), Interval(-0.1, -0.15, -0.05, 5), Interval(0.02, -0.01, 0.05, 5)
    assert rule.decide(dict(zip("abcde", [up, up, up, down, down]))).verdict == REPRODUCED
    assert rule.decide(dict(zip("abcde", [up, up, down, down, open_]))).verdict == UNDECIDED
    assert rule.decide(dict(zip("abcde", [up, up, down, down, down]))).verdict == NOT_REPRODUCED
    assert AtLeast(2, RULE).decide(dict(zip("abcde", [up, up, down, down, down]))).verdict == REPRODUCED
    with pytest.raises(ValueError, match="never hold"):
        AtLeast(6, RULE).decide(dict(zip("abcde", [up] * 5)))


def test_at_least_k_with_failed_instruments_is_undecided_instrument():
    up = Interval(0.1, 0.05, 0.15, 5)
    bad, ok = Control("c", False, "x"), Control("c", True, "x")
    decision = AtLeast(3, RULE).decide(dict(zip("abcde", [up] * 5)), dict(zip("abcde", [bad, bad, bad, ok, ok])))
    assert decision.verdict == UNDECIDED and decision.why.startswith("instrument: only 2 of 5")
    assert AtLeast(2, RULE).decide(dict(zip("abcde", [up] * 5)),
                                   dict(zip("abcde", [bad, bad, bad, ok, ok]))).verdict == REPRODUCED


def test_poisson_binomial():
    assert poisson_binomial_at_least(2, [0.5, 0.5]) == pytest.approx(0.25)
    assert poisson_binomial_at_least(1, [0.5, 0.5]) == pytest.approx(0.75)
    assert poisson_binomial_at_least(0, [0.1]) == pytest.approx(1.0)


def test_a_difference_test_never_shows_absence():
    rule = Significant(0.05, "Kruskal-Wallis", "one family 0.05 apart")
    assert rule.decide(0.01, 0.7).verdict == REPRODUCED
    assert rule.decide(0.05, 0.7).verdict == UNDECIDED
    assert rule.decide(math.nan, 0.7).verdict == UNDECIDED


def test_low_power_is_said_in_the_row():
    weak = RULE.decide(Interval(0.0, -0.2, 0.2, 5))
    assert weak.power < 0.5 and "low power" in weak.diagnosis
    strong = RULE.decide(Interval(0.1, 0.09, 0.11, 5))
    assert strong.power > 0.99 and strong.diagnosis == ""


def _fields(decision: Decision) -> dict:
    """A decision's every field, NaN made comparable."""
    out = {k: getattr(decision, k) for k in Decision.__dataclass_fields__}
    out["power"] = "nan" if math.isnan(out["power"]) else round(out["power"], 6)
    out["evidence"] = [{k: ("nan" if isinstance(v, float) and math.isnan(v) else v) for k, v in e.items()}
                       for e in out["evidence"]]
    return out


RULE_TEXT = "CI above 0; not reproduced if wholly below 0.05 (smallest effect of interest 0.05: a stated value)"


def _evidence(name, mean, lo, hi, n=5, **extra):
    return {"name": name, "mean": mean, "lo": lo, "hi": hi, "n": n, "confidence": 0.95, "missing": 0, "side": "above",
            "threshold": 0.0, "smallest": 0.05} | extra


def test_every_field_of_a_directional_decision_is_what_the_reader_is_told():
    power = round(one_sided_power(0.05, standard_error(Interval(0.1, 0.05, 0.15, 5)) * math.sqrt(5), 5), 6)
    assert _fields(RULE.decide(Interval(0.1, 0.05, 0.15, 5), name="gap")) == {
        "verdict": "reproduced", "rule": RULE_TEXT, "measured": "gap 0.100 [0.050, 0.150]", "power": power,
        "needed": 8, "why": "", "unit": "seeds", "evidence": [_evidence("gap", 0.1, 0.05, 0.15)], "control": ""}
    assert _fields(RULE.decide(Interval(0.02, -0.01, 0.05, 5))) == {
        "verdict": "undecided", "rule": RULE_TEXT, "measured": "0.020 [-0.010, 0.050]", "power": 0.925097, "needed": 5,
        "why": "the interval reaches 0 and 0.05: about 6 seeds would decide it at this mean and spread",
        "unit": "seeds", "evidence": [_evidence("CI", 0.02, -0.01, 0.05)], "control": ""}
    assert _fields(RULE.decide(Interval(0.15, 0.1, math.nan, 3), name="gap")) == {
        "verdict": "undecided", "rule": RULE_TEXT, "measured": "gap 0.150 [0.100, nan]", "power": "nan", "needed": None,
        "why": "the statistic is not a number", "unit": "seeds", "evidence": [_evidence("gap", 0.15, 0.1, "nan", 3)],
        "control": ""}
    assert Below(0.0, -0.1, "x", what="CI of y").text() == \
        "CI of y below 0; not reproduced if wholly above -0.1 (smallest effect of interest -0.1: x)"
    assert Below(0.05, 0.05, "x", power_at=0.0).text() == "CI below 0.05 (smallest effect of interest 0.05: x)"
    models = Above(0.0, 0.3, "x", unit="models").decide(Interval(0.1, -0.2, 0.4, 30))
    assert models.unit == "models" and "models would decide it" in models.why


def test_every_field_of_an_equivalence_and_a_difference_test():
    within = Within(0.05, "stated").decide(Interval(0.0, -0.04, 0.04, 5, 0.9))
    assert _fields(within) | {"power": 0} == {
        "verdict": "reproduced", "rule": "90% CI within +/- 0.05 (TOST at 5%); wholly outside: not reproduced "
                                         "(margin: stated)",
        "measured": "0.000 [-0.040, 0.040]", "power": 0, "needed": 8, "why": "", "unit": "seeds",
        "evidence": [{"name": "90% CI", "mean": 0.0, "lo": -0.04, "hi": 0.04, "n": 5, "confidence": 0.9, "missing": 0,
                      "margin": 0.05}], "control": ""}
    assert within.power == pytest.approx(0.47, abs=0.02)
    assert Within(0.02, "x", alpha=0.025).text().startswith("95% CI within +/- 0.02 (TOST at 2.5%)")
    straddles = Within(0.05, "x").decide(Interval(0.04, 0.0, 0.08, 5, 0.9), name="gap")
    assert straddles.measured == "gap 0.040 [0.000, 0.080]" and straddles.why.startswith(
        "the interval reaches +/- 0.05: about ")
    s = Significant(0.05, "Kruskal-Wallis", "one family 0.05 apart")
    evidence = [{"name": "Kruskal-Wallis", "p": 0.01, "alpha": 0.05}]
    text = "Kruskal-Wallis: p < 0.05 (power at one family 0.05 apart)"
    assert _fields(s.decide(0.01, 0.7)) == {"verdict": "reproduced", "rule": text, "measured": "p = 0.01",
                                           "power": 0.7, "needed": None, "why": "", "unit": "seeds",
                                           "evidence": evidence, "control": ""}
    ok = Control("c", True, "m")
    assert _fields(s.decide(0.2, 0.7, control=ok)) == {
        "verdict": "undecided", "rule": text, "measured": "p = 0.2", "power": 0.7, "needed": None,
        "why": "no difference shown; a test of difference cannot show its absence", "unit": "seeds",
        "evidence": [evidence[0] | {"p": 0.2}], "control": "c: passed (m)"}
    assert _fields(s.decide(math.nan, 0.7, control=ok)) == {
        "verdict": "undecided", "rule": text, "measured": "p = nan", "power": 0.7, "needed": None,
        "why": "the p-value is not a number", "unit": "seeds", "evidence": [evidence[0] | {"p": "nan"}],
        "control": "c: passed (m)"}
    assert s.decide(0.01, 0.7, control=Control("c", False, "m")).why == "instrument: c: failed (m)"


def test_every_field_of_a_rule_over_several_statistics():
    a, b, c = Interval(0.1, 0.05, 0.15, 5), Interval(0.02, -0.01, 0.05, 5), Interval(-0.1, -0.15, -0.05, 5)
    decided = AtLeast(2, RULE).decide({"a": a, "b": b, "c": c}, {"a": Control("c", True, "m")})
    parts = [RULE.decide(x, name=n) for n, x in (("a", a), ("b", b), ("c", c))]
    assert _fields(decided) == {
        "verdict": "undecided", "rule": f"at least 2 of 3: {RULE_TEXT}",
        "measured": "1 of 3 reproduced: a 0.100 [0.050, 0.150]; b 0.020 [-0.010, 0.050]; c -0.100 [-0.150, -0.050]",
        "power": round(poisson_binomial_at_least(2, [p.power for p in parts]), 6), "needed": None,
        "why": "1 of 3 undecided: b: the interval reaches 0 and 0.05: about 6 seeds would decide it at this mean and "
               "spread", "unit": "seeds",
        "evidence": [e | {"rule_out_needed": 2} for e in (_evidence("a", 0.1, 0.05, 0.15), _evidence("b", 0.02, -0.01, 0.05),
                                                          _evidence("c", -0.1, -0.15, -0.05))],
        "control": "c: passed (m)"}
    assert AtLeast(1, RULE).decide({"a": a, "c": c}).why == ""
    assert AtLeast(2, RULE).decide({"c": c, "d": c}).why == ""
    assert AtLeast(2, RULE).decide({"a": a, "b": a}).unit == "seeds"
    assert AtLeast(2, Above(0.0, 0.3, "x", unit="models")).decide({"a": a, "b": a}).unit == "models"
    assert AtLeast(2, RULE).decide({"a": a, "b": a}).needed is None
    nan_power = AtLeast(1, RULE).decide({"a": Interval(1.0, 1.0, 1.0, 6), "b": Interval(1.0, 1.0, 1.0, 6)})
    assert nan_power.power == 0.0  # a part without a power counts as one that cannot reproduce
    failed = Control("c", False, "m")
    assert AtLeast(2, RULE).decide({"a": a, "b": a}, {"a": failed}).why == \
        "instrument: only 1 of 2 instruments passed their controls (the rule needs 2)"
    assert AtLeast(1, RULE).decide({"a": a, "b": a}, {"a": failed}).verdict == REPRODUCED  # one valid is enough
    both = all_of({"x": RULE.decide(a, control=Control("k", True, "1")), "y": RULE.decide(c)})
    assert (both.rule, both.measured, both.control, both.unit) == (
        f"x: {RULE_TEXT}; and y: {RULE_TEXT}", "x 0.100 [0.050, 0.150]; y -0.100 [-0.150, -0.050]",
        "k: passed (1)", "seeds")
    assert both.why == "" and len(both.evidence) == 2


def test_joint_controls_not_run_and_gate_say_what_happened():
    assert joint(Control("x", True, "1"), Control("y", True, "2")) == Control("x; y", True, "1; 2")
    assert joint(Control("x", True, "1"), Control("y", None, "2")) == Control("x; y", None, "1; 2")
    assert joint(Control("x", False, "1"), Control("y", None, "2")).passed is False
    assert _fields(not_run("no such arm")) == {"verdict": "undecided", "rule": "not run", "measured": "",
                                               "power": "nan", "needed": None, "why": "not run: no such arm",
                                               "unit": "seeds", "evidence": [], "control": ""}
    passed = gate(Decision(REPRODUCED, "r", "m"), Control("c", True, "seen"))
    assert (passed.verdict, passed.control, passed.why) == (REPRODUCED, "c: passed (seen)", "")
    unrun = gate(Decision(REPRODUCED, "r", "m"), Control("c", None, "no data"))
    assert (unrun.verdict, unrun.why, unrun.control) == (UNDECIDED, "instrument: c: not run (no data)",
                                                         "c: not run (no data)")


def test_sign_test_bounds():
    assert sign_test_decides(Interval(1, 1, 1, 6)) and not sign_test_decides(Interval(1, 1, 1, 5))
    assert sign_test_decides(Interval(1, 1, 1, 5, 0.9)) and not sign_test_decides(Interval(1, 1, 1, 4, 0.9))
    assert [sign_test_seeds(c) for c in (0.9, 0.95, 0.99)] == [5, 6, 8]


def test_the_sign_test_is_strict_at_its_bound():
    exact = 1 - 2 * 0.5 ** 5  # a confidence whose one-sided error is exactly 0.5 ** 5
    assert not sign_test_decides(Interval(1, 1, 1, 5, exact)) and sign_test_decides(Interval(1, 1, 1, 6, exact))


def test_a_failed_control_speaks_first_even_when_the_statistic_cannot_decide():
    bad = Control("planted", False, "missed")
    for rule, x in ((RULE, Interval(math.nan, 0.1, 0.2, 3)), (Within(0.05, "m"), Interval(math.nan, 0.1, 0.2, 3, 0.9)),
                    (RULE, Interval(0.3, 0.3, 0.3, 4))):
        decided = rule.decide(x, control=bad)
        assert decided.why == "instrument: planted: failed (missed)" and decided.control == "planted: failed (missed)"


def test_undecided_paths_keep_the_rule_the_label_the_unit_and_the_evidence():
    rule = Above(0.0, 0.3, "x", unit="models")
    for x in (Interval(math.nan, 0.1, 0.2, 3), Interval(0.3, 0.3, 0.3, 4)):
        decided = rule.decide(x, name="rho")
        assert (decided.rule, decided.unit) == (rule.text(), "models")
        assert decided.measured == f"rho {x}" and decided.evidence[0]["name"] == "rho"
    assert RULE.decide(Interval(0.3, 0.3, 0.3, 4)).why == \
        "no spread across 4 values: decided by the exact sign test, which needs 6 seeds"
    within = Within(0.05, "m", unit="models").decide(Interval(math.nan, 0.1, 0.2, 3, 0.9), name="gap")
    assert (within.rule, within.unit, within.measured) == (Within(0.05, "m").text(), "models", "gap nan [0.100, 0.200]")
    assert Within(0.05, "m").decide(Interval(0.0, -0.01, 0.01, 5, 0.9), name="gap").evidence[0]["name"] == "gap"


def test_a_clear_effect_below_the_smallest_of_interest_is_named_exactly_and_strictly():
    assert RULE.decide(mean_ci([0.02] * 6)).why == \
        "smaller than the smallest effect of interest, which the interval rules out"
    assert RULE.decide(Interval(0.03, 0.01, 0.05, 5)).why == ""  # reaching 0.05 does not rule it out
    assert RULE.decide(mean_ci([0.2] * 6)).why == ""


def test_a_bound_rule_names_its_one_bound():
    bound = Below(0.05, 0.05, "b", power_at=0.0).decide(Interval(0.04, 0.03, 0.06, 5))
    assert bound.why.startswith("the interval reaches 0.05: about ")


def test_the_seeds_that_would_decide_read_the_distance_to_the_nearer_bound_the_mean_could_clear():
    rule = Above(0.1, 0.3, "x")
    x = Interval(0.15, -0.35, 0.65, 5)  # 0.05 above the threshold, 0.15 below the smallest effect
    assert f"about {seeds_to_decide(x, 0.15)} seeds" in rule.decide(x).why
    assert seeds_to_decide(x, 0.15) != seeds_to_decide(x, 0.25) != seeds_to_decide(x, 0.05)
    mirrored = Below(-0.1, -0.3, "x").decide(Interval(-0.15, -0.65, 0.35, 5))
    assert f"about {seeds_to_decide(x, 0.15)} seeds" in mirrored.why


def test_power_reads_the_rule_s_own_confidence():
    rule = Above(0.0, 0.05, "x", confidence=0.90)
    x = Interval(0.05, 0.0, 0.1, 5, 0.90)
    assert rule.power(x) == pytest.approx(one_sided_power(0.05, standard_error(x) * math.sqrt(5), 5, 0.90))
    assert math.isnan(Within(0.05, "m").power(Interval(math.nan, 0.1, 0.2, 3, 0.9)))


def test_a_conjunction_explains_only_an_undecided_verdict():
    no, maybe = RULE.decide(Interval(-0.1, -0.15, -0.05, 5)), RULE.decide(Interval(0.02, -0.01, 0.05, 5))
    assert all_of({"x": no, "y": maybe}).why == ""
    assert all_of({"x": maybe, "y": maybe}).why == f"x: {maybe.why}; y: {maybe.why}"


def test_at_least_k_with_exactly_k_instruments_is_undecided_by_its_statistics():
    up, maybe = Interval(0.1, 0.05, 0.15, 5), Interval(0.02, -0.01, 0.05, 5)
    bad = Control("c", False, "x")
    decided = AtLeast(2, RULE).decide({"a": up, "b": maybe, "c": up}, {"c": bad})
    assert decided.why == f"2 of 3 undecided: b: {RULE.decide(maybe).why}; c: instrument: c: failed (x)"


def test_power_is_not_a_number_where_the_design_has_none():
    assert math.isnan(one_sided_power(0.1, 0.1, 1)) and math.isnan(one_sided_power(0.1, 0.0, 5))
    assert math.isnan(one_sided_power(math.nan, 0.1, 5)) and math.isnan(one_sided_power(0.1, math.nan, 5))
    assert 0 < one_sided_power(0.1, 0.1, 5) < 1


def test_every_path_of_an_equivalence_keeps_what_the_reader_sees():
    rule = Within(0.05, "m", unit="models")
    flat = rule.decide(Interval(0.01, 0.01, 0.01, 2, 0.9), name="gap")
    assert _fields(flat) == {"verdict": "undecided", "rule": rule.text(), "measured": "gap 0.010 [0.010, 0.010]",
                             "power": "nan", "needed": None,
                             "why": "no spread across 2 values: decided by the exact sign test, which needs 5 models",
                             "unit": "models", "evidence": [{"name": "gap", "mean": 0.01, "lo": 0.01, "hi": 0.01, "n": 2,
                                                              "confidence": 0.9, "missing": 0, "margin": 0.05}],
                             "control": ""}
    broken = rule.decide(Interval(math.nan, 0.1, 0.2, 3, 0.9))
    assert broken.evidence[0]["margin"] == 0.05 and broken.why == "the statistic is not a number"
    failed = rule.decide(Interval(0.0, -0.01, 0.01, 5, 0.9), control=Control("c", False, "x"))
    assert failed.verdict == UNDECIDED and failed.why == "instrument: c: failed (x)"
    assert rule.decide(Interval(0.0, -0.04, 0.05, 5, 0.9)).verdict == UNDECIDED  # touching the margin is not inside


def test_the_seeds_to_decide_are_the_first_whose_interval_is_narrower_than_the_distance():
    x = Interval(0.0, -0.1, 0.1, 5)
    sd = standard_error(x) * math.sqrt(5)
    n = seeds_to_decide(x, 0.05)
    half = lambda k: stats.t.ppf(0.975, k - 1) * sd / math.sqrt(k)  # noqa: E731
    assert half(n) < 0.05 <= half(n - 1)
    hopeless = RULE.decide(Interval(0.025, -10.0, 10.05, 5))
    assert hopeless.why == "the interval reaches 0 and 0.05: no feasible number of seeds decides it at this mean"


def test_an_interval_that_cannot_decide_says_exactly_why():
    assert RULE.decide(Interval(0.5, 0.4, 0.6, 1)).why == "fewer than two values"
    assert RULE.decide(Interval(0.5, 0.6, 0.7, 3)).why == "the interval does not contain its estimate"


def test_a_statistic_that_is_no_interval_is_kept_as_its_value():
    decided = RULE.decide(0.3, name="a bare number")
    assert decided.verdict == UNDECIDED and decided.evidence[0]["name"] == "a bare number"
    assert decided.evidence[0]["value"] == 0.3


def test_a_verdict_outside_the_three_is_refused_by_name():
    with pytest.raises(ValueError, match="verdict must be one of"):
        Decision("probably", "a rule", "probably")


def test_power_is_not_a_number_for_an_interval_with_missing_values():
    assert math.isnan(RULE.power(Interval(0.06, 0.01, 0.11, 4, missing=1)))


def test_an_equivalence_without_spread_still_hears_a_failed_control():
    failed = Control("a planted effect", False, "not seen")
    decided = Within(0.05, "stated").decide(mean_ci([0.01, 0.01, 0.01], 0.90), control=failed)
    assert decided.verdict == UNDECIDED and decided.why.startswith("instrument:")


def test_seeds_to_decide_uses_n_minus_one_degrees_of_freedom_and_its_own_limit():
    x = mean_ci([0.0, 0.1, 0.2, 0.3])
    sd = standard_error(x) * math.sqrt(x.n)
    expected = next(n for n in range(2, 1000) if stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n) < 0.1)
    assert seeds_to_decide(x, 0.1) == expected == 9  # with n - 2 degrees of freedom it would be 10
    assert seeds_to_decide(x, 0.1, limit=expected - 1) is None


def test_the_sign_test_reads_both_tails_at_the_rule_s_confidence():
    assert sign_test_decides(Interval(1.0, 1.0, 1.0, 8, confidence=0.99))  # 0.5^8 = 0.0039 < 0.005
    assert not sign_test_decides(Interval(1.0, 1.0, 1.0, 7, confidence=0.99))  # 0.0078
