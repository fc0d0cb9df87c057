"""The bench: one figure at a time, and figures that say what they measured."""

import json

from clipbook.book import cli
from clipbook.book.bench import batched_trainer, side_by_side
from clipbook.device import num_threads


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


def test_the_side_by_side_figure_times_both_ways_of_training_the_same_models():
    with num_threads(2):
        figure = side_by_side(n_models=2, steps=3, batch_size=8, n_images=32)
    assert figure["workers"] == 2 and figure["models"] == 2
    alone, together = figure["one_after_another_s"], figure["side_by_side_s"]
    # the speedup is the ratio of the unrounded times; rounding each to 0.01 s moves the ratio of the
    # rounded ones by at most 0.005 / together + 0.005 / alone relative, and the speedup's own rounding by 0.005
    tolerance = alone / together * (0.005 / together + 0.005 / alone) + 0.005
    assert abs(figure["speedup"] - alone / together) <= tolerance


def test_the_help_names_every_figure(capsys):
    from clipbook.book.bench import FIGURES

    try:
        cli.main(["bench", "--help"])
    except SystemExit:
        pass
    help_text = " ".join(capsys.readouterr().out.split())
    assert all(name in help_text for name in FIGURES)
