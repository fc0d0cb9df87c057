"""The generated Results page, from constructed run records."""

from clipbook.book.site import results_page, summary_table


def _claim(id, origin, reproduced, **extra):
    verdict = {True: "reproduced", False: "not reproduced", None: "undecided"}[reproduced]
    return {"id": id, "statement": f"claim {id}", "origin": origin, "source": "s", "test": "t", "measured": "m",
            "reproduced": reproduced, "verdict": verdict, "power": 0.9, "needed": 4, "unit": "seeds", "why": "",
            "diagnosis": "", "history": []} | extra


RECORDS = [
    {"number": 1, "stem": "01_one", "run": {"title": "One", "profile": "default"},
     "claims": [_claim("a", "paper", True), _claim("b", "paper", False), _claim("c", "book", True)]},
    {"number": 2, "stem": "02_two", "run": {"title": "Two", "profile": "default"},
     "claims": [_claim("a", "paper", None, why="instrument: planted effect: failed (0.0)", diagnosis="instrument: x",
                       power=float("nan"), needed=None),
                _claim("b", "paper", True, power=0.3, diagnosis="low power (0.30 at the smallest effect of interest)",
                       history=[{"was": "p < 0.01", "now": "p < 0.05", "why": "out of reach", "commit": "3ce9542"}]),
                _claim("c", "paper", True), _claim("d", "book", False)]},
]


def test_the_summary_has_one_row_per_chapter_with_its_verdict_counts_and_a_link():
    table = summary_table(RECORDS).set_index("chapter")
    assert list(table.index) == ["[1. One](chapters/01_one.ipynb#claims)", "[2. Two](chapters/02_two.ipynb#claims)"]
    assert table["paper: reproduced / not / undecided"].tolist() == ["1 / 1 / 0", "2 / 0 / 1"]
    assert table["this book's: reproduced / not / undecided"].tolist() == ["1 / 0 / 0", "0 / 1 / 0"]


def test_the_results_page_opens_with_the_summary_before_the_full_tables():
    page = results_page(RECORDS)
    assert page.index("| chapter |") < page.index("## Chapter 1: One") < page.index("## Chapter 2: Two")
    assert "the papers' claims: **3 reproduced, 1 not reproduced, 1 undecided**" in page
    assert "this book's own claims: **1 reproduced, 1 not reproduced, 0 undecided**" in page
    assert "designs with power below 0.5 at their smallest effect of interest: 1" in page


def test_each_row_shows_power_and_each_claim_why_it_is_undecided():
    page = results_page(RECORDS)
    assert "| **a.** claim a | the paper | **undecided (instrument)** | n/a |" in page
    assert "| **a.** claim a | the paper | **reproduced** | 0.90 (4 seeds for 0.8) |" in page
    assert "- **a.** *Source:* s. *Rule:* t. *Measured:* m. *Why:* instrument: x" in page
    assert "- **b.** *Source:* s. *Rule:* t. *Measured:* m. *Why:* low power (0.30 at the smallest effect" in page
    assert "- **c.** *Source:* s. *Rule:* t. *Measured:* m.\n" in page  # no diagnosis, no "Why"


def test_the_rule_changes_are_listed_with_their_commit():
    page = results_page(RECORDS)
    section = page[page.index("## Rules changed after a result was seen"):]
    assert "| 2 | b | p < 0.01 | p < 0.05 | out of reach | 3ce9542 |" in section
    assert "None." in results_page(RECORDS[:1])
