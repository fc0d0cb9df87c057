"""The bench: one figure at a time, and figures that say what they measured."""

import json

from clipbook.book import cli
from clipbook.book.bench import batched_trainer


def test_one_figure_can_be_asked_for_by_name(capsys):
    assert cli.main(["bench", "--only", "chapter_run_time_s"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"threads", "chapter_run_time_s"}
    assert cli.main(["bench", "--only", "everything"]) == 2
    assert "no figure 'everything'; figures: renderer, batched_linear_trainer" in capsys.readouterr().err


def test_the_batched_trainer_figure_times_a_short_loop():
    figure = batched_trainer(n_models=4, steps=5, batch_size=16, looped_models=2)
    assert figure["models"] == 4 and figure["speedup"] > 0
    ratio = figure["batched_model_steps_per_s"] / figure["loop_model_steps_per_s"]
    assert abs(figure["speedup"] - ratio) < 0.05 * ratio  # the speedup is the ratio of the two rates
