import pytest
import torch

from clipbook.data.augment import Augment, augment
from clipbook.data.render import make_shapes
from clipbook.data.shapes import ShapesSpec
from clipbook.models.towers import SimCLREncoder, classifier_from, create_simclr
from clipbook.training.loop import TrainConfig
from clipbook.training.stacked import StackedModels, simclr_loss_fn, train_simclr

IDENTITY = Augment(field_of_view=(1.0, 1.0), shift=0.0, p_flip=0.0, brightness=0.0, contrast=0.0, p_permute=0.0,
                   p_gray=0.0)


def _images(n=16):
    return make_shapes(ShapesSpec(seed=0, n=n, image_size=32)).images


def test_the_identity_view_returns_the_images_as_floats_in_their_layout():
    images = _images()  # floats in [0, 1]
    out = augment(images, torch.Generator().manual_seed(0), IDENTITY)
    assert out.dtype == torch.float32 and torch.allclose(out, images, atol=1e-5)
    as_bytes = (images * 255).round().to(torch.uint8)
    assert torch.allclose(augment(as_bytes, torch.Generator(), IDENTITY), as_bytes.float() / 255, atol=1e-5)
    last = augment(images.contiguous(memory_format=torch.channels_last), torch.Generator(), IDENTITY)
    assert last.is_contiguous(memory_format=torch.channels_last) and torch.allclose(last, images, atol=1e-5)


def test_each_image_draws_its_own_view_from_the_generator():
    images = _images(8)
    same = images[:1].expand(8, -1, -1, -1)
    a = augment(same, torch.Generator().manual_seed(1))
    b = augment(same, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)  # the generator decides everything
    assert len({tuple(v.flatten()[:64].tolist()) for v in a}) == 8  # one image, eight different views
    assert a.min() >= 0 and a.max() <= 1


def test_single_augmentations_do_what_they_say():
    images = _images(4)
    g = torch.Generator().manual_seed(0)
    flipped = augment(images, g, IDENTITY.__class__(**{**IDENTITY.__dict__, "p_flip": 1.0}))
    assert torch.allclose(flipped, images.flip(-1), atol=1e-5)
    gray = augment(images, g, IDENTITY.__class__(**{**IDENTITY.__dict__, "p_gray": 1.0}))
    assert torch.allclose(gray, images.mean(dim=1, keepdim=True).expand_as(images), atol=1e-6)
    permuted = augment(images, g, IDENTITY.__class__(**{**IDENTITY.__dict__, "p_permute": 1.0}))
    assert torch.allclose(permuted.sort(dim=1).values, images.sort(dim=1).values, atol=1e-6)  # same values per pixel


@pytest.mark.parametrize("bad", [dict(field_of_view=(1.2, 0.8)), dict(p_flip=1.5), dict(brightness=1.0),
                                 dict(shift=-0.1)])
def test_invalid_augmentations_are_clear_errors(bad):
    with pytest.raises(ValueError):
        Augment(**bad)


def test_simclr_loss_is_low_for_identical_views_and_training_lowers_it():
    images = _images(64)
    encoder = create_simclr("tiny-rn", seed=0)
    stack = StackedModels([encoder], torch.device("cpu"))
    idx = torch.arange(32)
    identical = simclr_loss_fn(stack, images, seed=0, views=IDENTITY)(stack.params, idx)
    random = simclr_loss_fn(stack, images, seed=0)(stack.params, idx)
    assert identical.shape == (1,) and identical.item() < random.item()
    result = train_simclr([encoder], images, TrainConfig(steps=30, batch_size=32, lr=3e-3, log_every=10))
    losses = result.history[result.history.metric == "loss"].value.to_numpy()
    assert losses[-1] < losses[0]


def test_fine_tuning_starts_from_the_pretrained_tower_with_a_new_head():
    encoder = create_simclr("tiny-rn", seed=3)
    assert isinstance(encoder, SimCLREncoder)
    clf = classifier_from(encoder, 5, seed=3)
    assert clf.prototypes.shape == (5, encoder.visual.output_dim)
    for (name, a), (_, b) in zip(encoder.visual.state_dict().items(), clf.visual.state_dict().items()):
        assert torch.equal(a, b), name
    with torch.no_grad():
        next(clf.visual.parameters()).add_(1.0)  # a copy: fine-tuning leaves the encoder alone
    assert not torch.equal(next(clf.visual.parameters()), next(encoder.visual.parameters()))
