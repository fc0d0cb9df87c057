"""Two-level fractional factorial designs: which runs to make, what each effect is aliased with,
and the effects estimated per seed.

A design of ``k`` knobs in ``2^(k-p)`` runs sets ``k - p`` knobs in a full factorial and the
others to products of them (the *generators*, pyDOE's ``fracfact``). Each contrast then estimates a
chain of aliased terms (pyDOE's ``fracfact_aliasing``): in a resolution IV design no main effect
shares a chain with a two-way interaction, while two-way interactions share chains with each
other. An effect is the mean outcome at a knob's high level minus the mean at its low level (for an
interaction, where the knobs' product is +1 minus where it is -1), read per seed so that its
interval is over seeds.
"""

from __future__ import annotations

from itertools import combinations
from typing import Sequence

import numpy as np
import pandas as pd
from pydoe import fracfact, fracfact_aliasing

from clipbook.evaluate.rules import Control
from clipbook.evaluate.stats import Interval, mean_ci

LETTERS = "abcdefghijklmnopqrstuvwxyz"


def design(knobs: Sequence[str], generators: Sequence[str]) -> pd.DataFrame:
    """The runs of the design: one row per run, one column per knob, levels -1 / +1. ``generators``
    are pyDOE's words for the knobs in order, letters standing for the base knobs (``"a b c d abc
    bcd"``: the fifth knob at the product of the first three)."""
    if len(generators) != len(knobs):
        raise ValueError(f"one generator per knob: {len(knobs)} knobs, {len(generators)} generators")
    matrix = fracfact(" ".join(generators)).astype(int)
    return pd.DataFrame(matrix, columns=list(knobs))


def resolution(runs: pd.DataFrame) -> int:
    """The design's resolution: the length of the shortest word of its defining relation (a
    product of knobs constant over the runs); a full factorial has none, and resolution k + 1."""
    x = runs.to_numpy()
    k = x.shape[1]
    for size in range(1, k + 1):
        for word in combinations(range(k), size):
            if abs(x[:, list(word)].prod(axis=1).sum()) == len(x):
                return size
    return k + 1


def _name(term: str, knobs: Sequence[str]) -> str:
    return " x ".join(knobs[LETTERS.index(letter)] for letter in term)


def alias_chains(runs: pd.DataFrame, order: int = 2) -> pd.DataFrame:
    """Each chain of aliased terms up to ``order`` (main effects and two-way interactions by
    default) that holds at least one such term, named by knob: ``term`` (the chain's first term,
    the one the book reads it as) and ``aliases`` (the others)."""
    knobs = list(runs.columns)
    chains, _ = fracfact_aliasing(runs.to_numpy().astype(float))
    rows = []
    for chain in chains:
        terms = [t.strip() for t in chain.split("=") if len(t.strip()) <= order]
        if terms:
            rows.append({"term": _name(terms[0], knobs), "aliases": ", ".join(_name(t, knobs) for t in terms[1:]),
                         "order": len(terms[0])})
    return pd.DataFrame(rows).sort_values(["order", "term"], kind="stable", ignore_index=True)


def contrast(runs: pd.DataFrame, term: str) -> pd.Series:
    """The +1 / -1 column of a term named as :func:`alias_chains` names it ("diversity x coverage")."""
    return runs[term.split(" x ")].prod(axis=1)


def effects(results: pd.DataFrame, outcome: str, terms: Sequence[str], by: str = "seed") -> pd.DataFrame:
    """Each term's effect on ``outcome`` per ``by`` group: mean where its contrast is +1 minus mean
    where it is -1. ``results`` holds one row per run and group, with a -1 / +1 column per knob."""
    rows = []
    for group, frame in results.groupby(by):
        y = frame[outcome].to_numpy(dtype=float)
        for term in terms:
            sign = contrast(frame, term).to_numpy()
            rows.append({by: group, "term": term, "effect": y[sign > 0].mean() - y[sign < 0].mean()})
    return pd.DataFrame(rows)


def effect_intervals(per_seed: pd.DataFrame, confidence: float = 0.95) -> dict[str, Interval]:
    """Each term's mean effect over seeds with its t interval (:func:`effects`' table)."""
    return {term: mean_ci(frame.effect.to_numpy(), confidence) for term, frame in per_seed.groupby("term", sort=False)}


def planted_effects_control(runs: pd.DataFrame, planted: dict[str, float], n_seeds: int, noise: float,
                            seed: int = 0, tolerance: float = 0.5) -> Control:
    """The estimator on outcomes with known effects: each planted term (a knob or a two-way
    interaction) added with its size, normal noise of sd ``noise`` per run (the run's own spread),
    ``n_seeds`` seeds. It passes when every planted effect reads within ``tolerance`` of its size
    (as a share of it) and every unplanted main effect reads less than ``tolerance`` times the
    smallest planted size (aliased terms, which share a planted term's contrast, are not read)."""
    rng = np.random.default_rng(seed)
    frames = []
    for s in range(n_seeds):
        y = rng.normal(0.0, noise, len(runs)) + sum(size / 2 * contrast(runs, term) for term, size in planted.items())
        frames.append(runs.assign(seed=s, y=y))
    others = [k for k in runs.columns if k not in planted]
    found = effect_intervals(effects(pd.concat(frames), "y", [*planted, *others]))
    hits = all(abs(found[t].mean - size) <= tolerance * abs(size) for t, size in planted.items())
    limit = tolerance * min(abs(size) for size in planted.values())
    stray = max(abs(found[k].mean) for k in others)
    text = "; ".join(f"{t} planted {size:g} read {found[t].mean:.3f}" for t, size in planted.items())
    return Control(f"planted effects, noise sd {noise:.3f} per run, {n_seeds} seeds", bool(hits and stray < limit),
                   f"{text}; largest unplanted main effect {stray:.3f} (limit {limit:g})")
