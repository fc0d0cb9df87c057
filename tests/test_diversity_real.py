"""Chapter 4's real-data pipeline, end to end on a tiny ImageNet-like fixture, and its scoring rules."""

import numpy as np
import pandas as pd
import pytest
import torch
from real_fixtures import CLASSES, imagenet_like
from scipy.special import expit

from clipbook.evaluate.imagenet import imagenet_accuracy
from clipbook.evaluate.robustness import effective_robustness_ci
from clipbook.experiments import diversity_real
from clipbook.experiments.diversity_real import LAYOUT
from clipbook.learners.imagenet_runs import SHIFTS, RealConfig, id_ood

def test_missing_data_are_listed_together_before_any_compute(tmp_path):
    (tmp_path / "imagenet").mkdir()
    (tmp_path / LAYOUT["imagenet_captions"]).write_text("[]")
    with pytest.raises(FileNotFoundError) as error:
        diversity_real.locate(tmp_path)
    message = str(error.value)
    assert "imagenet/train" in message and "objectnet.dev" in message and "imagenet-r" in message
    assert "imagenet_captions.json" not in message
    with pytest.raises(ValueError, match="unknown shifts"):
        diversity_real.locate(tmp_path, shifts=["imagenet_c"])


@pytest.mark.parametrize("damage, message", [("{\"filename\": ", r"not valid JSON \(line 1, column \d+\)"),
                                             ('{"a": 1}', "list of records"),
                                             ('[{"filename": "x.JPEG"}]', "every record needs")])
def test_malformed_captions_fail_before_any_compute(tmp_path, damage, message):
    imagenet_like(tmp_path)
    (tmp_path / LAYOUT["imagenet_captions"]).write_text(damage)
    with pytest.raises(ValueError, match=f"imagenet_captions.json.*{message}"):
        diversity_real.locate(tmp_path)


def test_the_diverse_pairs_are_checked_up_front(tmp_path):
    imagenet_like(tmp_path / "data")
    assert "diverse_pairs" not in diversity_real.locate(tmp_path / "data")
    with pytest.raises(FileNotFoundError, match="pairs.csv"):
        diversity_real.locate(tmp_path / "data", diverse_pairs=tmp_path / "pairs.csv")
    (tmp_path / "pairs.csv").write_text("path,text\na.jpg,a cat\n")
    with pytest.raises(ValueError, match="missing filepath, caption"):
        diversity_real.locate(tmp_path / "data", diverse_pairs=tmp_path / "pairs.csv")
    (tmp_path / "pairs.csv").write_text("filepath,caption\nnowhere.jpg,a cat\n")
    with pytest.raises(ValueError, match="1 of its first 1 images do not exist, e.g. nowhere.jpg"):
        diversity_real.locate(tmp_path / "data", diverse_pairs=tmp_path / "pairs.csv")


def test_scoring_follows_each_test_sets_convention():
    logits = torch.zeros(3, 1000)
    logits[0, 5], logits[0, 7] = 2.0, 1.0  # 5 wins overall, 7 among a subset without 5
    logits[1, 7] = 3.0
    logits[2, 9], logits[2, 7] = 4.0, 1.0  # 9 wins overall, 7 among {7, 8}
    labels = torch.tensor([7, 7, 8])

    class Subset:
        class_indices = [7, 8]

    class ObjectNet:
        imagenet_indices = [[7], [8, 9]]  # ObjectNet class 1 pools ImageNet classes 8 and 9

    assert imagenet_accuracy(logits, labels, "imagenet", None) == pytest.approx(1 / 3)
    assert imagenet_accuracy(logits, labels, "imagenet_r", Subset) == pytest.approx(2 / 3)
    assert imagenet_accuracy(logits, torch.tensor([0, 0, 1]), "objectnet", ObjectNet) == pytest.approx(1.0)


def test_effective_robustness_is_measured_from_the_supervised_line():
    ids = np.array([-1.0, 0.0, 1.0, 2.0])
    points = pd.DataFrame({"method": ["supervised"] * 4 + ["clip"] * 2, "run": ["s"] * 4 + ["c"] * 2,
                           "epoch": [1, 2, 3, 4, 1, 2], "id_accuracy": expit(np.r_[ids, 0.0, 1.0]),
                           "ood_accuracy": expit(np.r_[0.5 * ids - 1, -1.0, 0.5 * 1.0 - 1]) + np.r_[0, 0, 0, 0, 0, 0.1]})
    table, line = diversity_real.effective_robustness(points, n_boot=50)
    assert line.slope == pytest.approx(0.5) and line.intercept == pytest.approx(-1.0)
    rows = table.set_index("run")
    clip, supervised = rows.loc["c"], rows.loc["s"]
    assert (clip.method, clip.epoch, supervised.method, supervised.epoch) == ("clip", 2, "supervised", 4)
    assert (clip.id_accuracy, clip.ood_accuracy) == (points.id_accuracy[5], points.ood_accuracy[5])
    assert clip.er == pytest.approx(0.1) and supervised.er == pytest.approx(0.0, abs=1e-12)
    # the interval is the bootstrap over the supervised checkpoints, at the n_boot asked for
    ci = effective_robustness_ci(points.id_accuracy[:4], points.ood_accuracy[:4], [clip.id_accuracy],
                                 [clip.ood_accuracy], n_boot=50)
    assert (clip.er_lo, clip.er_hi) == (ci.lo, ci.hi) and clip.er_lo <= 0.1 <= clip.er_hi


def test_the_pipeline_trains_evaluates_and_resumes(tmp_path):
    imagenet_like(tmp_path / "data")
    config = RealConfig(model="tiny-rn-bpe", epochs=2, batch_size=8, lr=1e-3, warmup=0, workers=0, precision="fp32")
    accuracies = diversity_real.run(tmp_path / "data", tmp_path / "out", config, templates=("a photo of a {}.",),
                                    device="cpu")
    table = pd.read_csv(tmp_path / "out" / "imagenet_captions.csv")
    assert len(table) == 47 and table.filepath.str.startswith("/").all() and set(table.label) == set(CLASSES)
    assert len(accuracies) == 2 * 2 * 6 and accuracies.accuracy.between(0, 1).all()
    assert set(accuracies.run) == {"supervised-imagenet-captions", "clip-imagenet-captions"}
    points = id_ood(accuracies)
    assert len(points) == 4 and np.allclose(points.ood_accuracy, points[list(SHIFTS)].mean(axis=1))
    checkpoints = sorted((tmp_path / "out").glob("*/checkpoints/epoch_*.pt"))
    stamps = [p.stat().st_mtime_ns for p in checkpoints]
    again = diversity_real.run(tmp_path / "data", tmp_path / "out", config, templates=("a photo of a {}.",),
                               device="cpu")
    assert [p.stat().st_mtime_ns for p in checkpoints] == stamps and again.equals(accuracies)


def test_the_layout_table_names_every_data_set():
    table = diversity_real.layout_table("/data")
    assert list(table.index) == [f"/data/{p}" for p in LAYOUT.values()]
    assert table["what to put there"].str.len().gt(20).all()


@pytest.mark.slow
def test_the_chapter_runs_the_real_data_section_on_the_fixture(tmp_path):
    from clipbook.book import runner

    imagenet_like(tmp_path / "data")
    chapter = next(c for c in runner.chapters() if c.slug == "diversity")
    out = runner.run(chapter, {"real_data": str(tmp_path / "data"), "real_out": str(tmp_path / "out"),
                               "real_model": "tiny-rn-bpe", "real_epochs": 3, "real_batch_size": 8, "real_warmup": 0,
                               "real_workers": 0, "real_prompts": "simple"},
                     profile="smoke", output=tmp_path / "chapter.ipynb", progress=False)
    claims = {c["id"]: c for c in runner.read_record(out)["claims"]}
    assert "ER" in claims["r"]["measured"] and len(list((tmp_path / "out").glob("*/checkpoints/epoch_3.pt"))) == 2


def test_id_ood_reads_imagenet_and_the_mean_of_the_shifts():
    accuracies = pd.DataFrame({"method": "clip", "run": "r", "epoch": 1, "test_set": ["imagenet", "imagenet_v2", "imagenet_r"],
                               "accuracy": [0.6, 0.5, 0.2]})
    row = id_ood(accuracies, shifts=("imagenet_v2", "imagenet_r")).iloc[0]
    assert (row.id_accuracy, row.ood_accuracy) == pytest.approx((0.6, 0.35))
    with pytest.raises(ValueError, match=r"no accuracies on \['objectnet'\]"):
        id_ood(accuracies, shifts=("imagenet_v2", "objectnet"))


def test_an_unknown_prompt_set_is_named_before_any_training(tmp_path):
    imagenet_like(tmp_path / "data")
    with pytest.raises(ValueError, match=r"prompts must be one of \('openai', 'simple'\), got 'ensemble'"):
        diversity_real.run(tmp_path / "data", tmp_path / "out", RealConfig(epochs=1), templates="ensemble")
    assert not (tmp_path / "out").exists()
