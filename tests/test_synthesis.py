"""Chapter 7's statistics on hand-built runs: the design, the ER line, effects and the claims' inputs."""

import numpy as np
import pandas as pd
import pytest

from clipbook.data.joint import JointWorld
from clipbook.evaluate.rules import Decision
from clipbook.experiments import synthesis

WORLD = JointWorld()


def test_the_runs_and_twins_of_a_seed():
    design = synthesis.runs(WORLD)
    assert len(design) == 16 and list(design.columns) == ["run", *WORLD.knobs]
    twins = synthesis.twin_levels(design)
    assert len(twins) == 4 and (twins.diversity == -1).all()
    assert set(map(tuple, twins[["coverage", "long_tail"]].values)) == {(-1, -1), (-1, 1), (1, -1), (1, 1)}


def test_effective_robustness_reads_each_seed_against_its_own_twins():
    twins = pd.DataFrame({"seed": [0, 0, 1, 1], "id_accuracy": [0.3, 0.7, 0.3, 0.7],
                          "ood_accuracy": [0.2, 0.4, 0.1, 0.3]})
    clips = pd.DataFrame({"seed": [0, 1], "id_accuracy": [0.3, 0.3], "ood_accuracy": [0.25, 0.25]})
    er = synthesis.with_effective_robustness(clips, twins).sort_values("seed").er
    assert er.tolist() == pytest.approx([0.05, 0.15])


def _results(er_of) -> pd.DataFrame:
    design = synthesis.runs(WORLD)
    return pd.concat([design.assign(seed=s, er=er_of(design, s), c_ood=0.3, rho_predictions=0.0) for s in range(3)],
                     ignore_index=True)


def test_largest_margin_is_positive_only_where_the_knob_leads():
    effects = synthesis.effect_table(_results(lambda d, s: 0.03 * d.diversity + 0.01 * d.negatives + 0.001 * s),
                                     WORLD)
    margin = synthesis.largest_margin(effects, "diversity", "er", list(WORLD.knobs))
    assert margin.mean == pytest.approx(0.06 - 0.02)
    behind = synthesis.effect_table(_results(lambda d, s: 0.01 * d.diversity - 0.03 * d.coverage), WORLD)
    assert synthesis.largest_margin(behind, "diversity", "er", list(WORLD.knobs)).mean == pytest.approx(0.02 - 0.06)


def test_twin_gap_pairs_twins_with_the_clips_on_the_same_kind_of_data():
    results = _results(lambda d, s: 0.0 * d.diversity)
    results["rho_predictions"] = np.where((results.long_tail > 0) & (results.diversity < 0), 0.1, 0.9)
    twins = pd.DataFrame({"seed": [0, 1, 2, 0, 1, 2], "long_tail": [1, 1, 1, -1, -1, -1],
                          "rho_predictions": [0.7, 0.8, 0.6, -0.9, -0.9, -0.9]})
    gap = synthesis.twin_gap(results, twins)
    assert gap.mean == pytest.approx(0.6) and gap.n == 3


def test_findings_keep_each_knob_with_its_chapter_and_main_effects():
    effects = synthesis.effect_table(_results(lambda d, s: 0.03 * d.diversity + 0.001 * s), WORLD)
    decided = {c: Decision("undecided", "rule", "") for c in "abcdefghi"} | {"a": Decision("reproduced", "rule", "")}
    found = synthesis.findings(synthesis.effect_intervals(effects), WORLD, decided)
    assert found["knobs"]["diversity"] == {"chapter": 4, "what": "training styles", "claim": "a", "verdict": "reproduced"}
    assert found["knobs"]["long_tail"]["chapter"] == 6 and found["knobs"]["long_tail"]["verdict"] == "undecided"
    diversity = [e for e in found["main_effects"] if e["term"] == "diversity" and e["outcome"] == "er"]
    assert diversity[0]["effect"] == pytest.approx(0.06)
    assert {e["term"] for e in found["main_effects"]} == set(WORLD.knobs)  # no interaction in the answer table
    assert [e["outcome"] for e in found["main_effects"]][::6] == list(synthesis.OUTCOMES)  # ER first
