"""Frozen text towers: the additive one is exactly factorized, the entangled one shares nothing."""

import pytest
import torch
import torch.nn.functional as F

from clipbook.data.captions import WordTokenizer
from clipbook.models.text_towers import FrozenText, create_frozen_text_clip
from clipbook.models.towers import create_clip
from clipbook.training.loop import TrainConfig
from clipbook.training.stacked import train_clip

COLOURS, SHAPES = ("red", "blue", "green"), ("circle", "square", "star")
TOK = WordTokenizer(context_length=12)


def embed(kind: str, texts, seed: int = 0) -> torch.Tensor:
    torch.manual_seed(seed)
    return FrozenText(kind, TOK.words, COLOURS, SHAPES, dim=16)(TOK(texts))


def test_additive_text_is_attribute_plus_object_whatever_the_template():
    e = embed("additive", ["a photo of a red circle.", "a red square", "a sketch of a blue circle.", "blue square",
                           "a photo of a circle."])
    torch.testing.assert_close(e[0] - e[1], e[2] - e[3])  # the colour difference is the same for every shape
    torch.testing.assert_close(e[4], e[0] - embed("additive", ["red"])[0])  # no colour word: the shape alone


def test_entangled_text_gives_an_unrelated_vector_per_composition():
    e = embed("entangled", ["a red circle", "a red square", "a blue circle", "a blue square", "a drawing of a red circle"])
    torch.testing.assert_close(e[0], e[4])  # templates do not matter, the composition does
    assert (e[0] - e[1] - e[2] + e[3]).norm() > 0.5 * e[0].norm()  # no additive structure
    cosines = F.normalize(e[:4], dim=-1) @ F.normalize(e[:4], dim=-1).T
    assert cosines.fill_diagonal_(0).abs().max() < 0.9


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="kind"):
        FrozenText("mixed", TOK.words, COLOURS, SHAPES, dim=4)


def test_only_the_image_tower_and_temperature_learn():
    model = create_frozen_text_clip(create_clip("tiny-vit", seed=0).visual, "additive", TOK.words, COLOURS, SHAPES,
                                    seed=0)
    text_before = model.text.attribute_table.clone()
    visual_before = [p.clone() for p in model.visual.parameters()]
    images = torch.rand(16, 3, 32, 32)
    tokens = TOK([f"a {c} {s}" for c in COLOURS for s in SHAPES][:16] * 2)[:16]
    train_clip([model], images, tokens, TrainConfig(steps=3, batch_size=8))
    assert torch.equal(model.text.attribute_table, text_before)
    assert any(not torch.equal(a, b) for a, b in zip(model.visual.parameters(), visual_before))
    image, text, scale = model(images[:4], tokens[:4])
    assert image.shape == text.shape == (4, model.visual.output_dim)
    torch.testing.assert_close(text.norm(dim=-1), torch.ones(4))


def test_the_tables_depend_on_the_seed_only():
    visual = create_clip("tiny-vit", seed=0).visual
    a = create_frozen_text_clip(visual, "entangled", TOK.words, COLOURS, SHAPES, seed=1)
    b = create_frozen_text_clip(visual, "entangled", TOK.words, COLOURS, SHAPES, seed=1)
    c = create_frozen_text_clip(visual, "entangled", TOK.words, COLOURS, SHAPES, seed=2)
    assert torch.equal(a.text.pair_table, b.text.pair_table)
    assert not torch.equal(a.text.pair_table, c.text.pair_table)
