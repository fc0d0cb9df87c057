"""The check that executed chapters show no interval a reader could not trust sees each defect it looks for."""

import json

import pandas as pd
from table_check import cell_problems, notebook_problems, table_problems


def test_cells_with_nan_ends_a_stray_mean_or_ends_past_bounds_are_reported():
    assert cell_problems("0.596 [nan, nan]")
    assert cell_problems("0.5 [0.6, 0.7]")
    assert cell_problems("0.469 [-1.475, 2.413]", "ID accuracy")
    assert cell_problems("0.9 [0.5, 1.2]", "rho_accuracy")
    assert cell_problems("-0.2 [-1.1, 0.3]", "Spearman rho")
    assert not cell_problems("0.469 [-1.475, 2.413]", "delta ER")  # an unbounded quantity may go anywhere
    assert not cell_problems("0.804 [0.786, 0.822]", "accuracy") and not cell_problems("0.596", "accuracy")
    assert not cell_problems("-0.9 [-1.0, -0.8]", "rho")


def test_a_pandas_table_is_read_under_its_column_names():
    good = pd.DataFrame({"accuracy": ["0.5 [0.4, 0.6]"], "delta ER": ["0.1 [-2.0, 3.0]"]},
                        index=pd.Index(["CLIP"], name="method"))
    assert table_problems(good.to_html()) == []
    bad = good.assign(accuracy=["0.5 [-0.4, 1.6]"])
    assert len(table_problems(bad.to_html())) == 1 and "accuracy" in table_problems(bad.to_html())[0]


def test_a_notebook_is_checked_in_tables_and_in_printed_text(tmp_path):
    table = pd.DataFrame({"accuracy": ["0.5 [-0.4, 1.6]"]}).to_html()
    cells = [{"cell_type": "code", "outputs": [{"output_type": "execute_result", "data": {"text/html": [table]}},
                                               {"output_type": "stream", "text": ["0.3 [nan, nan]\n"]}]},
             {"cell_type": "markdown", "source": "0.3 [nan, nan]"}]  # prose is the glue test's, not this one's
    path = tmp_path / "chapter.ipynb"
    path.write_text(json.dumps({"cells": cells}))
    assert len(notebook_problems(path)) == 2
