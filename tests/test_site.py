"""The generated Results page, from constructed run records."""

from clipbook.book.site import results_page, summary_table


def _claim(id, origin, reproduced):
    verdict = {True: "reproduced", False: "not reproduced", None: "undecided"}[reproduced]
    return {"id": id, "statement": f"claim {id}", "origin": origin, "source": "s", "test": "t", "measured": "m",
            "reproduced": reproduced, "verdict": verdict}


RECORDS = [
    {"number": 1, "stem": "01_one", "run": {"title": "One", "profile": "default"},
     "claims": [_claim("a", "paper", True), _claim("b", "paper", False), _claim("c", "book", True)]},
    {"number": 2, "stem": "02_two", "run": {"title": "Two", "profile": "default"},
     "claims": [_claim("a", "paper", None), _claim("b", "paper", True), _claim("c", "paper", True),
                _claim("d", "book", False)]},
]


def test_the_summary_has_one_row_per_chapter_with_its_verdict_counts_and_a_link():
    table = summary_table(RECORDS).set_index("chapter")
    assert list(table.index) == ["[1. One](chapters/01_one.ipynb#claims)", "[2. Two](chapters/02_two.ipynb#claims)"]
    assert table.iloc[0, :3].tolist() == [1, 1, 0]
    assert table.iloc[1, :3].tolist() == [2, 0, 1]
    assert table["this book's: reproduced"].tolist() == ["1 of 1", "0 of 1"]


def test_the_results_page_opens_with_the_summary_before_the_full_tables():
    page = results_page(RECORDS)
    assert page.index("| chapter |") < page.index("## Chapter 1: One") < page.index("## Chapter 2: Two")
    assert "the papers' claims: **3 of 5** reproduced" in page
    assert "this book's own claims: **1 of 2** reproduced" in page
