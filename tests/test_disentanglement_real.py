"""Chapter 5's pretrained read-out on a tiny ImageNet-AO-shaped folder, with a local checkpoint as
the "pretrained" weights (nothing is downloaded)."""

import numpy as np
import pytest
import torch
from PIL import Image

from clipbook.experiments import disentanglement_real as real
from clipbook.models.towers import create_clip

PAIRS = [("red", "apple"), ("red", "car"), ("green", "apple"), ("green", "car"), ("blue", "car")]


@pytest.fixture
def imagenet_ao(tmp_path):
    rng = np.random.default_rng(0)
    for attribute, obj in PAIRS:
        folder = tmp_path / "ao" / f"{attribute}_{obj}"
        folder.mkdir(parents=True)
        for i in range(4):
            Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return tmp_path / "ao"


@pytest.fixture
def checkpoint(tmp_path):
    path = tmp_path / "tiny.pt"
    torch.save(create_clip("tiny-vit-bpe", seed=0).state_dict(), path)
    return path


def test_names_are_parsed_or_refused():
    assert real.parse_model("ViT-B-32:laion2b_s34b_b79k") == ("ViT-B-32", "laion2b_s34b_b79k")
    assert real.parse_model("RN50:/w/x:y.pt") == ("RN50", "/w/x:y.pt")
    assert real.parse_composition("red_sports car") == ("red", "sports car")
    for bad in ("RN50", ":openai"):
        with pytest.raises(ValueError, match="NAME:TAG"):
            real.parse_model(bad)
    with pytest.raises(ValueError, match="attribute"):
        real.parse_composition("apple")


def test_missing_data_fails_before_compute_with_the_source(tmp_path):
    with pytest.raises(FileNotFoundError, match="ImageNet-AO"):
        real.check_inputs(tmp_path / "nowhere", ["RN50:openai"])
    with pytest.raises(ValueError, match="prompts"):
        real.check_inputs(tmp_path / "nowhere", ["RN50:openai"], "fancy")


def test_a_pretrained_model_is_read_out_like_the_book_s_own(imagenet_ao, checkpoint):
    real.check_inputs(imagenet_ao, [f"tiny-vit-bpe:{checkpoint}"])
    table = real.evaluate_pretrained(imagenet_ao, [f"tiny-vit-bpe:{checkpoint}"], templates="simple", dci_trees=2,
                                     workers=0, device=torch.device("cpu"))
    row = table.iloc[0]
    assert row.model == f"tiny-vit-bpe:{checkpoint}"
    for column in ("composition", "attribute", "object", "object_top1", "image_z_diff", "text_dcimig"):
        assert 0.0 <= row[column] <= 1.0, column
    assert row.composition <= min(row.attribute, row["object"])  # a right composition has both parts right
    assert np.isnan(row.authors_object_top1)
