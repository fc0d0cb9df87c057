"""The parameter model: every number a person types, bounds checked before compute, clear errors."""

import types

import pytest

from clipbook.book import runner
from clipbook.book.parameters import (Parameter, ParameterError, load_parameter_file, parse_pairs, parse_parameters,
                                      parse_value)

CHAPTERS = runner.chapters()
IDS = [c.slug for c in CHAPTERS]


@pytest.mark.parametrize("text, value", [("1e-3", 0.001), ("1e4", 10000.0), ("2_000", 2000), (".5", 0.5),
                                         ("-2", -2), ("[1e-3, 2]", [0.001, 2]), ("true", True), ("e4", "e4")])
def test_values_are_read_as_a_person_types_them(text, value):
    assert parse_value(text) == value and type(parse_value(text)) is type(value)


def test_numbers_are_coerced_only_without_loss():
    lr, n = Parameter("lr", "float", 0.1, ""), Parameter("n", "int", 1, "")
    assert lr.check("1e-3") == 0.001 and lr.check(2) == 2.0
    assert n.check(1e4) == 10000 and isinstance(n.check(1e4), int) and n.check("7") == 7
    with pytest.raises(ParameterError, match="n must be int, got 2.5"):
        n.check(2.5)
    assert Parameter("flag", "bool", True, "").check("false") is False  # what plain papermill injects
    assert parse_pairs([["real_data", "2024"], ["n", "3"]], {"real_data": Parameter("real_data", "str", "", "")}) == \
        {"real_data": "2024", "n": 3}


def test_bounds_are_read_from_the_help_and_checked():
    params = parse_parameters("n: int = 3  # how many {min 1}\nps: list[float] = [0.5]  # probabilities {min 0, max 1, non-empty}")
    assert params["n"].help == "how many" and params["n"].bounds == ("min 1",)
    assert params["ps"].describe().endswith("{min 0, max 1, non-empty}")
    with pytest.raises(ParameterError, match="n must be at least 1, got 0"):
        params["n"].check(0)
    with pytest.raises(ParameterError, match="ps must not be empty"):
        params["ps"].check([])
    with pytest.raises(ParameterError, match="ps must be at most 1, got 1.5"):
        params["ps"].check([0.5, 1.5])
    with pytest.raises(ParameterError, match="unknown bound"):
        parse_parameters("n: int = 3  # how many {at least one}")


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_every_default_is_within_its_bounds(chapter):
    for parameter in chapter.parameters.values():
        assert parameter.check(parameter.default) == parameter.default


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
@pytest.mark.parametrize("name, value", [("n_seeds", 0), ("n_seeds", -2), ("steps", 0), ("batch_size", 0),
                                         ("n_train", 300_000_000), ("first_seed", -1), ("lr", 0.0)])
def test_sizes_that_cannot_run_are_refused_before_any_compute(chapter, name, value):
    if name not in chapter.parameters:
        pytest.skip(f"{chapter.slug} has no {name}")
    with pytest.raises(ParameterError, match=f"{name} must be"):
        chapter.resolve({name: value})


def test_empty_sweeps_are_refused():
    with pytest.raises(ParameterError, match="core_stds must not be empty"):
        runner.find_chapter("1").resolve({"core_stds": []})


@pytest.mark.parametrize("text, message", [("n_seeds: [1, 2\nsteps: 3\n", r"line \d+\): not valid YAML"),
                                           ("- 1\n- 2\n", "holds a list"), ("just text\n", "holds a str")])
def test_a_bad_parameter_file_is_one_line_naming_it(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ParameterError, match=f"bad.yaml.*{message}"):
        load_parameter_file(path)
    with pytest.raises(ParameterError, match="bad.yaml"):
        runner.find_chapter("1").resolve(files=[path])


def test_the_kernel_check_sees_what_plain_papermill_injected():
    chapter = runner.find_chapter("1")
    namespace = {p.name: p.default for p in chapter.parameters.values()}
    namespace |= {"In": [], "Out": {}, "np": types.ModuleType("np"), "check_parameters": print, "_i1": ""}
    namespace |= {"enforce_claims": "false", "lr": "1e-3"}  # papermill's `-p enforce_claims false -p lr 1e-3`
    chapter.check_namespace(namespace)
    assert namespace["enforce_claims"] is False and namespace["lr"] == 0.001
    with pytest.raises(ParameterError, match=r"unknown parameter\(s\) nseeds"):
        chapter.check_namespace(namespace | {"nseeds": 3})
    with pytest.raises(ParameterError, match="n_seeds must be int, got 'three'"):
        chapter.check_namespace(namespace | {"n_seeds": "three"})


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_every_chapter_checks_its_parameters_in_the_kernel(chapter):
    cells = chapter.notebook.cells
    first = next(i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", []))
    check = cells[first + 1]
    assert f'check_parameters("{chapter.stem}", globals())' in check.source
    assert "remove-cell" in check.metadata.get("tags", [])  # not shown on the site
