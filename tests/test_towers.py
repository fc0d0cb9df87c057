"""Tiny open_clip towers: configurations, the supervised baseline, training through the book's loop."""

import time

import open_clip
import pytest
import torch

from clipbook.models.towers import (
    TINY_MODELS,
    WeightsUnavailable,
    create_clip,
    create_supervised,
    load_pretrained,
    model_config,
)
from clipbook.training.loop import TrainConfig
from clipbook.training.stacked import StackedModels, clip_loss_fn, fit, pixels, train_clip, train_supervised

CPU = torch.device("cpu")
PALETTE = torch.tensor([[1.0, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1], [1, 1, 1], [0, 0, 0]])
EOT = 511  # the word-level text tower pools at the highest token id


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny towers gain little from a second thread, and on a busy shared CPU OpenMP threads
    waiting for each other make a step tens of times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _captions(labels: torch.Tensor) -> torch.Tensor:
    """One-word captions: the class word, then end-of-text."""
    tokens = torch.zeros(len(labels), 48, dtype=torch.long)
    tokens[:, 0], tokens[:, 1] = 1 + labels, EOT
    return tokens


def _word_captions(labels: torch.Tensor) -> torch.Tensor:
    """Captions of one to three class words, then end-of-text: rows of different lengths."""
    tokens = torch.zeros(len(labels), 48, dtype=torch.long)
    for row, label in enumerate(labels.tolist()):
        length = 1 + label % 3
        tokens[row, :length], tokens[row, length] = 1 + label, EOT
    return tokens


def _toy(n: int = 256, seed: int = 0):
    """Eight classes, each a colour under noise, captioned with its class word."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(len(PALETTE), (n,), generator=g)
    images = 0.7 * PALETTE[labels][:, :, None, None] + 0.3 * torch.rand(n, 3, 32, 32, generator=g)
    return images, _captions(labels), labels


def _loss_curve(result) -> list[float]:
    return result.history[result.history.metric == "loss"].groupby("step").value.mean().tolist()


@pytest.mark.parametrize("name", TINY_MODELS)
def test_configs_register_and_build_with_their_shapes(name):
    assert name in open_clip.list_models()
    config = model_config(name)
    model = create_clip(name)
    bpe = name.endswith("-bpe")
    assert (model.vocab_size, model.context_length) == ((49408, 77) if bpe else (512, 48))
    images, tokens = torch.rand(3, 3, 32, 32), torch.randint(1, model.vocab_size, (3, model.context_length))
    image_features, text_features, scale = model(images, tokens)
    assert image_features.shape == text_features.shape == (3, config["embed_dim"])
    torch.testing.assert_close(image_features.norm(dim=-1), torch.ones(3))
    assert scale.shape == ()


def test_the_word_tokenizer_fits_the_word_level_text_tower():
    captions = pytest.importorskip("clipbook.data.captions")
    tokenizer, model = captions.WordTokenizer(), create_clip("tiny-vit")
    assert tokenizer.context_length == model.context_length
    assert tokenizer.vocab_size <= model.vocab_size
    tokens = tokenizer(["a photo of a small red striped circle on a dark background in the top left."])
    assert tokens[0, tokens.argmax(-1)] == tokenizer.eot_token_id  # the tower pools at the end of the text


def test_overrides_merge_into_the_config_and_seeds_fix_the_weights():
    deeper = create_clip("tiny-vit", vision_cfg={"layers": 3})
    assert len(deeper.visual.transformer.resblocks) == 3
    assert deeper.visual.transformer.width == model_config("tiny-vit")["vision_cfg"]["width"]
    a, b, c = create_clip("tiny-vit", seed=1), create_clip("tiny-vit", seed=1), create_clip("tiny-vit", seed=2)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.visual.conv1.weight, c.visual.conv1.weight)


@pytest.mark.parametrize("name", ["tiny-vit", "tiny-rn"])
def test_supervised_classifier_is_the_clip_image_tower_with_a_prototype_head(name):
    clip, classifier = create_clip(name, seed=3), create_supervised(name, n_classes=5, seed=3)
    assert type(classifier.visual) is type(clip.visual)
    assert classifier.visual.state_dict().keys() == clip.visual.state_dict().keys()
    for key, value in clip.visual.state_dict().items():
        assert torch.equal(classifier.visual.state_dict()[key], value), key
    logits = classifier.eval()(torch.rand(4, 3, 32, 32))
    assert logits.shape == (4, 5)
    assert logits.abs().max() <= classifier.logit_scale.exp() + 1e-4  # scaled cosine similarities


def test_pixels_accepts_uint8_and_float_images():
    visual = create_clip("tiny-vit").visual
    as_bytes = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    torch.testing.assert_close(pixels(as_bytes, visual), pixels(as_bytes.float() / 255, visual))
    mean = torch.tensor(visual.preprocess_cfg["mean"])
    torch.testing.assert_close(pixels(mean.view(1, 3, 1, 1).expand(1, 3, 4, 4), visual), torch.zeros(1, 3, 4, 4))


def test_training_a_tiny_clip_learns_the_toy_task_and_is_deterministic():
    images, tokens, labels = _toy()
    config = TrainConfig(steps=30, batch_size=32, lr=2e-3, log_every=10)
    first, second = create_clip("tiny-vit"), create_clip("tiny-vit")
    run1 = train_clip([first], images, tokens, config, device=CPU)
    run2 = train_clip([second], images, tokens, config, device=CPU)
    assert run1.history.equals(run2.history)
    assert all(torch.equal(p, q) for p, q in zip(first.parameters(), second.parameters()))
    loss = _loss_curve(run1)
    assert loss[-1] < loss[0] - 1.0
    with torch.no_grad():
        first.eval()
        similarity = first.encode_image(pixels(images, first.visual)) @ first.encode_text(_captions(torch.arange(8))).T
    assert similarity.argmax(1).eq(labels).float().mean() > 0.9  # zero-shot on the class words; chance is 1/8


@pytest.mark.parametrize("name", ["tiny-vit", "tiny-rn"])
def test_training_lowers_the_loss_of_clip_and_supervised_towers(name):
    images, tokens, labels = _toy()
    config = TrainConfig(steps=30, batch_size=32, lr=2e-3)
    clip_loss = _loss_curve(train_clip([create_clip(name)], images, tokens, config, device=CPU))
    supervised_loss = _loss_curve(train_supervised([create_supervised(name, 8)], images, labels, config, device=CPU))
    assert clip_loss[-1] < clip_loss[0] - 1.0
    assert supervised_loss[-1] < supervised_loss[0] - 1.0


@pytest.mark.parametrize("name", ["tiny-vit", "tiny-rn"])
def test_vmap_batched_training_equals_training_each_model_alone(name):
    """One SGD step (and the BatchNorm statistics it updates): a model mixed up with another, or
    statistics shared across the stack, shows at once. Adam would turn the rounding noise of
    exactly-zero gradients (attention key biases) into whole steps, and BatchNorm-ReLU nets
    amplify rounding chaotically over steps (tiny-rn at seed 1 on an AMD EPYC CPU: 1e-7 after one
    step, 1e-5 after two, 2e-3 after three), so more steps would test the CPU's rounding."""
    images, tokens, _ = _toy(128)
    config = TrainConfig(steps=1, batch_size=32, lr=0.01, optimizer="sgd")
    together = [create_clip(name, seed=s) for s in (0, 1)]
    train_clip(together, images, tokens, config, device=CPU)
    for seed, batched in zip((0, 1), together):
        alone = create_clip(name, seed=seed)
        train_clip([alone], images, tokens, config, device=CPU)
        for (key, expected), actual in zip(alone.state_dict().items(), batched.state_dict().values()):
            torch.testing.assert_close(actual, expected, atol=1e-4, rtol=1e-3, msg=lambda m, key=key: f"{key}: {m}")


@pytest.mark.parametrize("name, n_models", [("tiny-vit", 1), ("tiny-vit", 2), ("tiny-vit-bpe", 1), ("tiny-rn-bpe", 2)])
def test_the_text_tower_runs_at_the_captions_length_with_the_same_loss_and_gradients(name, n_models):
    """Trimming padding columns is exact for the causal, end-token-pooled text tower: the loss and
    every gradient (positional embedding rows past the captions included, which stay zero) match
    the full-context run to float32 rounding."""
    images, _, labels = _toy(32)
    texts = [f"a photo of the colour {int(c)} " * (1 + int(c) % 3) for c in labels]
    tokens = open_clip.get_tokenizer(name)(texts) if name.endswith("-bpe") else _word_captions(labels)
    stack = StackedModels([create_clip(name, seed=s) for s in range(n_models)], CPU)
    trimmed = stack.text_tokens(tokens)
    last = (tokens != 0).sum(1).max()
    assert trimmed.shape == (len(tokens), last) and last < tokens.shape[1]
    assert torch.equal(trimmed, tokens[:, :last])
    results = []
    for t in (tokens, trimmed):
        params = {k: v.clone().requires_grad_(True) for k, v in stack.params.items()}
        loss = clip_loss_fn(stack, images, t)(params, torch.arange(len(images))).sum()
        loss.backward()
        results.append((loss.detach(), {k: v.grad for k, v in params.items()}))
    (full_loss, full_grads), (short_loss, short_grads) = results
    torch.testing.assert_close(short_loss, full_loss)
    for key, grad in full_grads.items():
        torch.testing.assert_close(short_grads[key], grad, atol=1e-5, rtol=1e-4, msg=lambda m, key=key: f"{key}: {m}")


def test_tokens_pass_unchanged_where_the_text_tower_is_not_open_clips_causal_one():
    stack = StackedModels([create_supervised("tiny-vit", 8)], CPU)
    tokens = _captions(torch.arange(8))
    assert stack.text_tokens(tokens) is tokens


def test_resuming_restores_batch_norm_statistics(tmp_path):
    images, tokens, _ = _toy(128)
    full = create_clip("tiny-rn")
    train_clip([full], images, tokens, TrainConfig(steps=6, batch_size=32), device=CPU)
    ckpt = str(tmp_path / "rn.pt")
    resumed = create_clip("tiny-rn")
    stack = StackedModels([resumed], CPU)
    fit(stack, clip_loss_fn(stack, images, tokens), len(images),
        TrainConfig(steps=3, batch_size=32, checkpoint=ckpt, checkpoint_every=3))
    restarted = create_clip("tiny-rn")  # a fresh process: BatchNorm statistics only in the checkpoint
    train_clip([restarted], images, tokens, TrainConfig(steps=6, batch_size=32, checkpoint=ckpt, checkpoint_every=3),
               device=CPU)
    for key, value in full.state_dict().items():
        torch.testing.assert_close(restarted.state_dict()[key], value, msg=key)
    assert not torch.equal(restarted.visual.bn1.running_mean, torch.zeros_like(restarted.visual.bn1.running_mean))


@pytest.mark.slow  # a timing assert: not in the fast suite, where a loaded machine could fail it
def test_pretrained_weights_offline_are_a_clear_fast_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    with pytest.raises(WeightsUnavailable, match="not available offline") as err:
        load_pretrained("RN50", "openai", cache_dir=str(tmp_path))
    assert time.perf_counter() - started < 20
    assert "local checkpoint" in str(err.value)


def test_any_download_failure_becomes_the_clear_error(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    def unreachable(*args, **kwargs):
        raise ConnectionError("network is unreachable")

    monkeypatch.setattr(open_clip, "create_model_and_transforms", unreachable)
    with pytest.raises(WeightsUnavailable, match="network is unreachable"):
        load_pretrained("RN50", "openai")


def test_unknown_tag_is_an_error_listing_the_tags():
    with pytest.raises(ValueError, match="openai"):
        load_pretrained("RN50", "no-such-tag")


def test_a_local_checkpoint_loads_without_network(tmp_path):
    model = create_clip("tiny-vit-bpe", seed=5)
    path = tmp_path / "tiny.pt"
    torch.save(model.state_dict(), path)
    loaded = load_pretrained("tiny-vit-bpe", str(path))
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[key], value), key
    assert not loaded.model.training
    assert loaded.tokenizer(["a red circle"]).shape == (1, 77)
