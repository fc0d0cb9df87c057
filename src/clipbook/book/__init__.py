"""The book machinery: execute chapters with validated parameters (``runner``), the command line
(``cli``), claims and their verdicts (``claims``), numbers glued into a chapter's prose
(``prose``), other seed sets (``seed_sets``) and their stored records (``records``), the website (``site``),
performance figures (``bench``)."""

from clipbook.exports import lazy_exports  # noqa: E402

__getattr__, __all__ = lazy_exports(__name__, {
    "ClaimSet": "clipbook.book.claims", "SUMMARY": "clipbook.book.claims", "check_parameters": "clipbook.book.runner",
})
