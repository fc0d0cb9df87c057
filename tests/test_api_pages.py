"""The library reference: every module of the package on a page, every page in the table of contents."""

import re

import yaml

from clipbook.book import api_pages
from clipbook.book.runner import BOOK


def test_every_module_is_documented_once_on_its_package_s_page():
    pages = api_pages.api_pages()
    documented = [m for text in pages.values() for m in re.findall(r"^\.\. automodule:: (\S+)$", text, re.M)]
    assert sorted(documented) == sorted(api_pages.modules())
    assert "clipbook.evaluate.rules" in api_pages.modules() and "clipbook.__main__" not in api_pages.modules()
    assert ".. automodule:: clipbook.evaluate.rules\n   :members:" in pages["clipbook_evaluate.md"]


def test_a_package_s_entry_links_what_it_exports_without_documenting_it_twice():
    page = api_pages.api_pages()["clipbook_data.md"]
    assert ".. automodule:: clipbook.data\n```" in page  # the docstring only: its names live in their modules
    assert "{py:obj}`SpuriousWorld <clipbook.data.latent.SpuriousWorld>`" in page
    assert "{py:mod}`clipbook.evaluate.controls`" in api_pages.api_pages()["clipbook.md"]


def test_modules_go_to_their_subpackage_s_page_or_the_top_level_one():
    assert api_pages.page_of("clipbook.evaluate.stats") == "clipbook.evaluate"
    assert api_pages.page_of("clipbook.evaluate") == "clipbook.evaluate"
    assert api_pages.page_of("clipbook.plots") == "clipbook" and api_pages.page_of("clipbook") == "clipbook"


def test_every_reference_page_is_in_the_table_of_contents():
    toc = yaml.safe_load((BOOK / "_toc.yml").read_text())
    part = next(p for p in toc["parts"] if p["caption"] == "Library reference")
    files = [part["chapters"][0]["file"]] + [s["file"] for s in part["chapters"][0]["sections"]]
    assert [f"{f.removeprefix('api/')}.md" for f in files] == list(api_pages.api_pages())
