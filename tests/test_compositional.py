"""Compositional read-outs on hand-built embeddings whose answers are known."""

import pytest
import torch
from torch import nn

from clipbook.data.captions import TEMPLATES, WordTokenizer
from clipbook.evaluate import compositional
from clipbook.models.text_towers import FrozenText, FrozenTextCLIP

COLOURS, SHAPES = ("red", "blue", "green", "yellow"), ("circle", "square", "star", "heart")
TOK = WordTokenizer(context_length=12)


def frozen(kind: str) -> FrozenTextCLIP:
    torch.manual_seed(0)
    return FrozenTextCLIP(nn.Identity(), FrozenText(kind, TOK.words, COLOURS, SHAPES, dim=64))


def test_composition_accuracy_reads_the_parts_of_the_predicted_composition():
    pairs = [("red", "circle"), ("blue", "square"), ("red", "square")]
    head = torch.eye(3)
    features = torch.tensor([[1.0, 0, 0], [0, 0, 1.0], [0, 1.0, 0], [0, 0, 1.0]])  # predicts pairs 0, 2, 1, 2
    truth = [("red", "circle"), ("red", "circle"), ("red", "square"), ("blue", "square")]
    acc = compositional.composition_accuracy(features, head, pairs, truth)
    # composition: 1 of 4; attribute: red/red/blue/red vs red/red/red/blue -> 2 of 4; object: circle/square/square/square -> 3 of 4
    assert acc == pytest.approx((0.25, 0.5, 0.75))


def test_text_codes_have_one_row_per_template_and_composition():
    pairs = [("red", "circle"), ("blue", "square"), ("red", "square")]
    codes, factors = compositional.text_codes(frozen("additive"), TOK, pairs)
    assert codes.shape == (3 * len(TEMPLATES), 64)
    assert factors[:len(TEMPLATES)].tolist() == [[1, 0]] * len(TEMPLATES)  # blue, red / circle, square, sorted
    assert factors[-1].tolist() == [1, 1]


def test_the_zero_shot_head_of_an_additive_tower_is_its_composition_vector():
    model = frozen("additive")
    head = compositional.composition_head(model, TOK, [("red", "circle")])
    direct = compositional.text_features(model, TOK, ["red circle"])
    torch.testing.assert_close(head, direct)


@pytest.mark.parametrize("kind, low, high", [("additive", 0.9, 1.0), ("entangled", 0.0, 0.5)])
def test_arithmetic_retrieves_unseen_compositions_only_from_factorized_embeddings(kind, low, high):
    model = frozen(kind)
    seen = [(c, s) for i, c in enumerate(COLOURS) for j, s in enumerate(SHAPES) if (i + j) % 2 == 0]
    unseen = [(c, s) for i, c in enumerate(COLOURS) for j, s in enumerate(SHAPES) if (i + j) % 2 == 1]
    images = compositional.text_features(model, TOK, compositional.phrases(seen))  # perfect "image" embeddings
    rate = compositional.arithmetic_retrieval(model, TOK, images, seen, unseen)
    assert low <= rate <= high


def test_arithmetic_needs_a_shared_object():
    model = frozen("additive")
    images = compositional.text_features(model, TOK, ["red circle"])
    with pytest.raises(ValueError, match="^no source image shares an object with a target composition$"):
        compositional.arithmetic_retrieval(model, TOK, images, [("red", "circle")], [("blue", "square")])
    # a target without a source sharing its object is skipped, and the next is still queried
    rate = compositional.arithmetic_retrieval(model, TOK, images, [("red", "circle")],
                                              [("blue", "square"), ("blue", "circle")])
    assert rate == 1.0


class Recording:
    """A tokenizer that remembers the texts it was given."""

    def __init__(self):
        self.texts = []

    def __call__(self, texts):
        self.texts += list(texts)
        return TOK(texts)


def test_every_text_read_out_uses_the_templates_it_is_given():
    model, templates, pairs = frozen("additive"), ("{} drawn.", "a sketch of {}."), [("red", "circle")]
    expected = compositional.prompt_ensembles(["red circle"], templates)
    for read_out in (compositional.class_head, compositional.composition_head, compositional.text_codes):
        tokenizer = Recording()
        read_out(model, tokenizer, ["red circle"] if read_out is compositional.class_head else pairs, templates)
        assert tokenizer.texts == expected, read_out.__name__


def test_prompt_ensembles_take_the_book_s_templates_and_open_clip_s():
    book = compositional.prompt_ensembles(["red circle", "orange star"], ("a photo of {}.", "art of {}."))
    assert book == ["a photo of a red circle.", "art of a red circle.", "a photo of an orange star.",
                    "art of an orange star."]
    open_clip_style = compositional.prompt_ensembles(["red circle"], (lambda c: f"a photo of a {c}.",))
    assert open_clip_style == ["a photo of a red circle."]
