"""Decision rules: a claim decided three ways, with the power of its design.

A rule is stated before its run, from the paper's claim: the direction the paper predicts, the
threshold an interval must clear for *reproduced*, and the **smallest effect of interest** (the
paper's own effect size where it reports one, else a stated value with its reason). Applied to the
run's statistics it gives a :class:`Decision`:

- *reproduced*: the interval clears the threshold in the paper's direction;
- *not reproduced*: the interval rules out the smallest effect of interest (it lies wholly short
  of it), or an equivalence interval lies wholly outside its margin;
- *undecided*: neither. The decision says why: the seeds that would decide it at the observed
  spread, a statistic that is not a number, or an instrument whose control failed.

Every decision carries its design's **power**: the chance that the rule says *reproduced* when the
true effect is the smallest effect of interest (for an equivalence, when it is zero), at the
observed spread and number of seeds, and the number of seeds that would give
:data:`~clipbook.evaluate.power.TARGET_POWER` (:mod:`clipbook.evaluate.power`).
Power comes from the interval itself (its half-width gives the spread), so a rule needs nothing
but the interval the chapter reports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Mapping, Sequence

import numpy as np

from clipbook.evaluate.power import (one_sided_power, poisson_binomial_at_least, seeds_needed, seeds_to_decide,
                                     sign_test_decides, sign_test_seeds, standard_error)
from clipbook.evaluate.stats import Interval, equivalence_power

REPRODUCED, NOT_REPRODUCED, UNDECIDED = "reproduced", "not reproduced", "undecided"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, UNDECIDED)
LOW_POWER = 0.5
"""Below this power a claim's row says its design is weak."""


@dataclass(frozen=True)
class RuleChange:
    """A claim's rule changed after a result was seen: what it was, what it became, why, and the
    commit that changed it (shown with the claim, never silent)."""
    was: str
    now: str
    why: str
    commit: str


@dataclass(frozen=True)
class Control:
    """An instrument's control: a construction with a built-in effect, and whether the metric saw it.
    ``passed`` None: the control could not be run (say why in ``measured``)."""
    name: str
    passed: bool | None
    measured: str

    def __str__(self) -> str:
        state = {True: "passed", False: "failed", None: "not run"}[self.passed]
        return f"{self.name}: {state} ({self.measured})"


@dataclass(frozen=True)
class Decision:
    """What a rule says about a claim's statistics, with what the record keeps of them."""
    verdict: str
    rule: str  # the rule in words, with its threshold and smallest effect of interest
    measured: str  # the statistics it read
    power: float = float("nan")  # P(reproduced | the smallest effect of interest), at the observed spread
    needed: int | None = None  # seeds that would give TARGET_POWER at the smallest effect and observed spread
    why: str = ""  # an undecided claim's diagnosis (or a reproduced effect's size below the smallest of interest)
    unit: str = "seeds"  # what ``needed`` counts
    evidence: tuple[dict, ...] = ()  # the intervals and bounds read, for the run record
    control: str = ""  # the instrument's control and its outcome, where the claim rests on one

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")

    @property
    def reproduced(self) -> bool | None:
        return {REPRODUCED: True, NOT_REPRODUCED: False, UNDECIDED: None}[self.verdict]

    @property
    def diagnosis(self) -> str:
        """One line for the claim's row: why it is undecided, or that its design is weak."""
        parts = [self.why] if self.why else []
        if math.isfinite(self.power) and self.power < LOW_POWER:
            parts.append(f"low power ({self.power:.2f} at the smallest effect of interest)")
        return "; ".join(parts)


def _check(x: Interval, confidence: float) -> str:
    """Why an interval cannot decide anything ('' when it can)."""
    if not isinstance(x, Interval):
        return f"the statistic {x!r} is not an interval"
    if not math.isclose(x.confidence, confidence):
        raise ValueError(f"this rule reads a {confidence:.0%} interval, got a {x.confidence:.0%} one")
    if x.missing:
        return f"{x.missing} of {x.n + x.missing} values are missing (NaN)"
    if x.n < 2:
        return "fewer than two values"
    if not all(math.isfinite(v) for v in (x.mean, x.lo, x.hi)):
        return "the statistic is not a number"
    if not x.lo <= x.mean <= x.hi:
        return "the interval does not contain its estimate"
    return ""


def _no_spread(x: Interval, unit: str) -> str:
    return (f"no spread across {x.n} values: decided by the exact sign test, which needs "
            f"{sign_test_seeds(x.confidence)} {unit}")


def _evidence(name: str, x: Interval, **bounds: float) -> dict:
    if not isinstance(x, Interval):
        return {"name": name, "value": x, **bounds}
    return {"name": name, **x._asdict(), **bounds}


def _undecided_why(bounds: str, n: int | None, unit: str) -> str:
    return f"the interval reaches {bounds}: " + (f"about {n} {unit} would decide it at this mean and spread"
                                                  if n else "no feasible number of seeds decides it at this mean")


def _fmt(v: float) -> str:
    return f"{v:g}"


@dataclass(frozen=True)
class Above:
    """The paper predicts the statistic above ``threshold``. *Reproduced*: the interval's lower
    bound clears ``threshold``; *not reproduced*: its upper bound lies below ``smallest``, the
    smallest effect of interest (so ``smallest >= threshold``); power is computed at ``power_at``
    (default ``smallest``), which must lie above ``threshold``."""
    threshold: float
    smallest: float
    because: str  # where the smallest effect of interest comes from
    what: str = "CI"  # what the interval is of, for the rule's text
    power_at: float | None = None
    unit: str = "seeds"
    confidence: float = 0.95
    sign: int = field(default=1, init=False, repr=False)

    def __post_init__(self):
        if self.sign * (self.smallest - self.threshold) < 0:
            raise ValueError(f"the smallest effect of interest {self.smallest} must lie at or beyond the "
                             f"threshold {self.threshold} in the paper's direction")
        if self.sign * (self.target - self.threshold) <= 0:
            raise ValueError(f"power needs an effect beyond the threshold {self.threshold}; give power_at")

    @property
    def target(self) -> float:
        return self.smallest if self.power_at is None else self.power_at

    @property
    def side(self) -> str:
        return "above" if self.sign > 0 else "below"

    def text(self) -> str:
        bounds = f"{self.what} {self.side} {_fmt(self.threshold)}"
        if self.smallest != self.threshold:
            bounds += f"; not reproduced if wholly {'below' if self.sign > 0 else 'above'} {_fmt(self.smallest)}"
        return f"{bounds} (smallest effect of interest {_fmt(self.smallest)}: {self.because})"

    def power(self, x: Interval, n: int | None = None) -> float:
        if _check(x, self.confidence) or x.hi == x.lo:
            return float("nan")
        return one_sided_power(self.sign * (self.target - self.threshold), standard_error(x) * math.sqrt(x.n),
                               n or x.n, self.confidence)

    def decide(self, x: Interval, *, name: str = "", control: Control | None = None) -> Decision:
        problem = _check(x, self.confidence)
        evidence = (_evidence(name or self.what, x, side=self.side, threshold=self.threshold, smallest=self.smallest),)
        label = f"{name} {x}" if name else f"{x}"
        if problem:
            return gate(Decision(UNDECIDED, self.text(), label, why=problem, unit=self.unit, evidence=evidence), control)
        lo, hi = (x.lo, x.hi) if self.sign > 0 else (-x.hi, -x.lo)
        if x.hi == x.lo:  # every value the same: the sign test, or nothing
            if not sign_test_decides(x):
                return gate(Decision(UNDECIDED, self.text(), label, why=_no_spread(x, self.unit), unit=self.unit,
                                     evidence=evidence), control)
            lo = hi = self.sign * x.mean
        power = self.power(x)
        needed = seeds_needed(lambda n: self.power(x, n))
        if lo > self.sign * self.threshold:
            verdict = REPRODUCED
            why = ("smaller than the smallest effect of interest, which the interval rules out"
                   if hi < self.sign * self.smallest else "")
        elif hi < self.sign * self.smallest:
            verdict, why = NOT_REPRODUCED, ""
        else:
            verdict = UNDECIDED
            reach = (f"{_fmt(self.threshold)} and {_fmt(self.smallest)}" if self.smallest != self.threshold
                     else _fmt(self.threshold))
            mean = self.sign * x.mean
            distance = max(mean - self.sign * self.threshold, self.sign * self.smallest - mean)
            why = _undecided_why(reach, seeds_to_decide(x, distance), self.unit)
        return gate(Decision(verdict, self.text(), label, power, needed, why, self.unit, evidence), control)


@dataclass(frozen=True)
class Below(Above):
    """The paper predicts the statistic below ``threshold``: :class:`Above` mirrored (``smallest``
    at or below ``threshold``)."""
    sign: int = field(default=-1, init=False, repr=False)


@dataclass(frozen=True)
class Within:
    """An equivalence ("contributes little"): two one-sided tests read off a ``1 - 2 alpha``
    interval. *Reproduced* when it lies within +/- ``margin``, *not reproduced* when it lies wholly
    outside, *undecided* when it straddles a bound. Power: the chance of confirming equivalence
    when the true effect is zero, at the observed spread (:func:`equivalence_power`)."""
    margin: float
    because: str
    what: str = ""  # default: "90% CI" (the interval the alpha reads)
    alpha: float = 0.05
    unit: str = "seeds"

    @property
    def confidence(self) -> float:
        return 1 - 2 * self.alpha

    def text(self) -> str:
        what = self.what or f"{self.confidence * 100:g}% CI"
        return (f"{what} within +/- {_fmt(self.margin)} (TOST at {self.alpha * 100:g}%); wholly outside: not "
                f"reproduced (margin: {self.because})")

    def power(self, x: Interval, n: int | None = None) -> float:
        if _check(x, self.confidence) or x.hi == x.lo:
            return float("nan")
        return equivalence_power(standard_error(x) * math.sqrt(x.n), n or x.n, self.margin, alpha=self.alpha)

    def decide(self, x: Interval, *, name: str = "", control: Control | None = None) -> Decision:
        problem = _check(x, self.confidence)
        evidence = (_evidence(name or self.what or f"{self.confidence * 100:g}% CI", x, margin=self.margin),)
        label = f"{name} {x}" if name else f"{x}"
        if problem:
            return gate(Decision(UNDECIDED, self.text(), label, why=problem, unit=self.unit, evidence=evidence), control)
        if x.hi == x.lo and not sign_test_decides(x):
            return gate(Decision(UNDECIDED, self.text(), label, why=_no_spread(x, self.unit), unit=self.unit,
                                 evidence=evidence), control)
        power = self.power(x)
        needed = seeds_needed(lambda n: self.power(x, n))
        if -self.margin < x.lo and x.hi < self.margin:
            verdict, why = REPRODUCED, ""
        elif x.lo >= self.margin or x.hi <= -self.margin:
            verdict, why = NOT_REPRODUCED, ""
        else:
            verdict = UNDECIDED
            why = _undecided_why(f"+/- {_fmt(self.margin)}", seeds_to_decide(x, abs(self.margin - abs(x.mean))),
                                 self.unit)
        return gate(Decision(verdict, self.text(), label, power, needed, why, self.unit, evidence), control)


@dataclass(frozen=True)
class Significant:
    """A test of difference (an omnibus test's p-value below ``alpha``). Such a test can show a
    difference but never its absence, so a p at or above ``alpha`` leaves the claim undecided;
    its power comes from the chapter (a simulation of its design at the smallest effect)."""
    alpha: float
    test: str  # the test's name
    because: str  # the smallest effect of interest the power is computed at, and where it comes from

    def text(self) -> str:
        return f"{self.test}: p < {_fmt(self.alpha)} (power at {self.because})"

    def decide(self, p: float, power: float, *, control: Control | None = None) -> Decision:
        evidence = ({"name": self.test, "p": p, "alpha": self.alpha},)
        measured = f"p = {p:.2g}"
        if not math.isfinite(p):
            return gate(Decision(UNDECIDED, self.text(), measured, power, why="the p-value is not a number",
                                 evidence=evidence), control)
        if p < self.alpha:
            return gate(Decision(REPRODUCED, self.text(), measured, power, evidence=evidence), control)
        return gate(Decision(UNDECIDED, self.text(), measured, power, why="no difference shown; a test of difference "
                             "cannot show its absence", evidence=evidence), control)


def joint(*controls: Control) -> Control:
    """Several controls a claim's instruments need, as one: passed only when every one passed."""
    passed = [c.passed for c in controls]
    verdict = False if False in passed else (None if None in passed else True)
    return Control("; ".join(c.name for c in controls), verdict, "; ".join(c.measured for c in controls))


def not_run(why: str) -> Decision:
    """A stated claim that this run's parameters leave untested: undecided, with why."""
    return Decision(UNDECIDED, "not run", "", why=f"not run: {why}")


def gate(decision: Decision, control: Control | None) -> Decision:
    """A decision that rests on an instrument stands only where the instrument's control saw its
    built-in effect; otherwise the claim is undecided (instrument)."""
    if control is None:
        return decision
    if control.passed is True:
        return replace(decision, control=str(control))
    return replace(decision, verdict=UNDECIDED, why=f"instrument: {control}", control=str(control))


def all_of(parts: Mapping[str, Decision]) -> Decision:
    """A conjunction: reproduced when every part is, not reproduced when any part is, else
    undecided. Power is the product of the parts' (independent designs); the seeds needed, the
    most any part needs."""
    verdicts = [d.verdict for d in parts.values()]
    undecided = {name: d for name, d in parts.items() if d.verdict == UNDECIDED}
    if NOT_REPRODUCED in verdicts:
        verdict = NOT_REPRODUCED
    elif undecided:
        verdict = UNDECIDED
    else:
        verdict = REPRODUCED
    needs = [d.needed for d in parts.values()]
    needed = None if None in needs else max(needs)
    return Decision(verdict, "; and ".join(f"{n}: {d.rule}" for n, d in parts.items()),
                    "; ".join(f"{n} {d.measured}" for n, d in parts.items()),
                    float(np.prod([d.power for d in parts.values()])), needed,
                    "; ".join(f"{n}: {d.why}" for n, d in undecided.items()) if verdict == UNDECIDED else "",
                    next(iter(parts.values())).unit, tuple(e for d in parts.values() for e in d.evidence),
                    "; ".join(d.control for d in parts.values() if d.control))


@dataclass(frozen=True)
class AtLeast:
    """``k`` of several statistics, each decided by ``rule`` (e.g. "CI above 0 for at least 3 of 5
    metrics"). A statistic whose instrument failed its control counts as undecided. Reproduced:
    at least ``k`` reproduced; not reproduced: fewer than ``k`` could still be (reproduced plus
    undecided); otherwise undecided, and *undecided (instrument)* when fewer than ``k`` instruments
    passed their controls. Power: at least ``k`` of the valid statistics reproduced, each at its
    own power (independent)."""
    k: int
    rule: Above | Within

    def text(self, n: int) -> str:
        return f"at least {self.k} of {n}: {self.rule.text()}"

    def decide(self, xs: Mapping[str, Interval], controls: Mapping[str, Control] | None = None) -> Decision:
        controls = controls or {}
        if self.k > len(xs):
            raise ValueError(f"at least {self.k} of {len(xs)} statistics can never hold")
        parts = {name: self.rule.decide(x, name=name, control=controls.get(name)) for name, x in xs.items()}
        count = {v: sum(d.verdict == v for d in parts.values()) for v in VERDICTS}
        valid = [d for name, d in parts.items() if controls.get(name) is None or controls[name].passed is True]
        power = poisson_binomial_at_least(self.k, [d.power if math.isfinite(d.power) else 0.0 for d in valid])
        measured = f"{count[REPRODUCED]} of {len(xs)} reproduced: " + "; ".join(d.measured for d in parts.values())
        evidence = tuple(e | {"rule_out_needed": len(xs) - self.k + 1} for d in parts.values() for e in d.evidence)
        control = "; ".join(d.control for d in parts.values() if d.control)
        if count[REPRODUCED] >= self.k:
            verdict, why = REPRODUCED, ""
        elif count[REPRODUCED] + count[UNDECIDED] < self.k:
            verdict, why = NOT_REPRODUCED, ""
        elif len(valid) < self.k:
            verdict = UNDECIDED
            why = f"instrument: only {len(valid)} of {len(xs)} instruments passed their controls (the rule needs {self.k})"
        else:
            verdict = UNDECIDED
            why = f"{count[UNDECIDED]} of {len(xs)} undecided: " + "; ".join(
                f"{n}: {d.why}" for n, d in parts.items() if d.verdict == UNDECIDED)
        return Decision(verdict, self.text(len(xs)), measured, power, None, why, self.rule.unit, evidence, control)
