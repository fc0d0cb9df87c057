"""The introduction's answer table: built from run records, so a changed record changes it."""

import copy

from clipbook.book import evidence, site


def _claim(cid: str, verdict: str, origin: str = "paper") -> dict:
    return {"id": cid, "verdict": verdict, "origin": origin, "source": "Ren & Li 2023, abstract"}


def _record(*claims: dict, seed_sets: dict | None = None) -> dict:
    return {"number": 3, "stem": "03_pair_conditioning", "run": {"title": "Pair-driven conditioning"},
            "claims": list(claims), "seed_sets": seed_sets or {}}


def test_the_table_follows_the_records():
    record = _record(_claim("a", "reproduced"), _claim("b", "reproduced"), _claim("g", "reproduced", "book"))
    record["claims"][1]["power"] = 0.3
    row = evidence.evidence_table([record]).iloc[0]
    assert row["mechanism"].endswith("(Ren & Li 2023)") and row[evidence.COUNTS] == "2 / 0 / 0"
    assert row["what the evidence supports"] == ("Supported in its controlled world: every claim of the paper tested "
                                                 "here reproduces. *Power below 0.5:* b. *Other seed sets:* no other "
                                                 "seed set recorded.")
    changed = copy.deepcopy(record)
    changed["claims"][1]["verdict"] = "not reproduced"
    row = evidence.evidence_table([changed]).iloc[0]
    assert row[evidence.COUNTS] == "1 / 1 / 0"
    assert row["what the evidence supports"].startswith("Supported where claim a reproduces; evidence against claim b.")


def test_seed_sets_that_disagree_are_named():
    other = {"claims": [_claim("a", "reproduced"), _claim("b", "undecided")]}
    record = _record(_claim("a", "reproduced"), _claim("b", "reproduced"), seed_sets={0: other, 1000: other})
    assert evidence.evidence_table([record]).iloc[0]["what the evidence supports"].endswith(
        "*Other seed sets:* 1 of 2 the same at first_seed 0, 1000; claim b differs at one or more.")


def test_undecided_claims_leave_the_question_open():
    assert evidence.supports([_claim("a", "undecided")]) == "Not settled: no claim of the paper is decided either way."
    assert evidence.supports([_claim("a", "reproduced"), _claim("c", "undecided")]) == \
        "Supported where claim a reproduces; open where claim c is undecided."
    assert evidence.supports([]) == "The chapter tests no claim of the paper."
    two = [_claim("a", "not reproduced"), _claim("b", "not reproduced"), _claim("c", "undecided"), _claim("d", "undecided")]
    assert evidence.supports(two) == "Evidence against claims a, b; open where claims c, d are undecided."


def test_the_answer_text_before_and_after_a_run():
    assert "make book" in site.answer_text([])
    text = site.answer_text([_record(_claim("a", "reproduced"))])
    assert text.startswith("| mechanism | the paper's claims") and "[3. Pair-driven conditioning](chapters/03_pair_conditioning.ipynb)" in text


def _synthesis(diversity_effect: float, verdict: str = "reproduced") -> dict:
    effect = lambda term, e: {"outcome": "er", "term": term, "effect": e, "lo": e - 0.01, "hi": e + 0.01}  # noqa: E731
    return {"number": 7, "stem": "07_synthesis", "run": {"title": "Synthesis"}, "claims": [_claim("a", "reproduced", "book")],
            "findings": {"knobs": {"negatives": {"chapter": 3, "what": "weight", "claim": "i", "verdict": "undecided"},
                                   "diversity": {"chapter": 4, "what": "styles", "claim": "a", "verdict": verdict}},
                         "outcomes": {"er": "effective robustness"},
                         "main_effects": [effect("negatives", 0.004), effect("diversity", diversity_effect)]}}


def test_the_joint_world_column_follows_chapter_7s_record():
    chapter_4 = _record(_claim("a", "reproduced")) | {"number": 4, "stem": "04_diversity", "run": {"title": "Diversity"}}
    supports = "what the evidence supports"
    table = evidence.evidence_table([_record(_claim("a", "reproduced")), chapter_4, _synthesis(0.05)])
    assert len(table) == 2  # Chapter 7 gives each mechanism its effects, not a row of its own
    assert table[supports][0].endswith("*In the joint world (Chapter 7):* negatives (claim i, undecided): "
                                       "ER 0.004 [-0.006, 0.014].")
    assert table[supports][1].endswith("*In the joint world (Chapter 7):* diversity (claim a, reproduced): "
                                       "ER 0.050 [0.040, 0.060].")
    changed = evidence.evidence_table([chapter_4, _synthesis(-0.02, "not reproduced")])
    assert changed[supports][0].endswith("diversity (claim a, not reproduced): ER -0.020 [-0.030, -0.010].")
    assert "joint world" not in evidence.evidence_table([chapter_4])[supports][0]  # before Chapter 7 has run


def test_a_table_shown_inside_a_chapter_has_no_site_links():
    row = evidence.evidence_table([_record(_claim("a", "reproduced"))], links=False).iloc[0]
    assert row["mechanism"] == "3. Pair-driven conditioning (Ren & Li 2023)"
