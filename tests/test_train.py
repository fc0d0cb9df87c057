"""The batched trainer trains each model exactly as if it were alone, deterministically."""

import math
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from open_clip.loss import ClipLoss

from clipbook.models import linear
from clipbook.training.loop import TrainConfig, learning_rate, train
from clipbook.training.losses import clip_loss, cross_entropy, weighted_negatives_loss

CPU = torch.device("cpu")


def _features(m=3, n=16, d=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (F.normalize(torch.randn(m, n, d, generator=g), dim=-1), F.normalize(torch.randn(m, n, d, generator=g), dim=-1),
            torch.tensor([1.0, 10.0, 30.0][:m]))


def test_clip_loss_is_open_clips_loss_per_model():
    a, b, s = _features()
    expected = torch.stack([ClipLoss()(a[i], b[i], s[i]) for i in range(3)])
    torch.testing.assert_close(clip_loss(a, b, s), expected)


def test_weighted_negatives_interpolates_between_positive_only_and_clip():
    a, b, s = _features()
    torch.testing.assert_close(weighted_negatives_loss(a, b, s, 1.0), clip_loss(a, b, s))
    positives = (a * b).sum(-1).mean(-1) * s
    torch.testing.assert_close(weighted_negatives_loss(a, b, s, 0.0), -positives)
    per_model = weighted_negatives_loss(a, b, s, torch.tensor([0.0, 1.0, 0.5]))
    torch.testing.assert_close(per_model[1], clip_loss(a, b, s)[1])


def test_negatives_weighted_inside_the_normalizer():
    """-s_ii + log(exp(s_ii) + v * sum_{j != i} exp(s_ij)), worked out row by row; v = 1 is CLIP's
    loss, v = 0 leaves nothing to learn, and the loss is never negative."""
    a, b, s = _features()
    v = torch.tensor([0.0, 0.3, 1.0])
    logits = s.view(-1, 1, 1) * a @ b.transpose(1, 2)

    def direction(lg):
        diag = torch.diagonal(lg, dim1=1, dim2=2)
        others = lg.exp().sum(-1) - diag.exp()
        return (-diag + torch.log(diag.exp() + v.view(-1, 1) * others)).mean(-1)

    expected = 0.5 * (direction(logits) + direction(logits.transpose(1, 2)))
    loss = weighted_negatives_loss(a, b, s, 1.0, inside=v)
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(loss[0], torch.tensor(0.0))
    torch.testing.assert_close(loss[2], clip_loss(a, b, s)[2])
    assert (loss >= 0).all()


def test_cross_entropy_per_model():
    logits, labels = torch.randn(2, 7, 4), torch.randint(4, (2, 7))
    expected = torch.stack([F.cross_entropy(logits[i], labels[i]) for i in range(2)])
    torch.testing.assert_close(cross_entropy(logits, labels), expected)


def _clip_fit(x, t, config, init_seed=0):
    params = linear.init_clip(x.shape[0], x.shape[-1], t.shape[-1], 4, seed=init_seed)

    def loss_fn(p, idx):
        return clip_loss(linear.encode(p["image"], x[:, idx]), linear.encode(p["text"], t[:, idx]), p["logit_scale"].exp())

    return train(params, loss_fn, x.shape[1], config, device=CPU)


def test_batched_training_equals_training_each_model_alone():
    g = torch.Generator().manual_seed(1)
    x, t = torch.randn(3, 96, 6, generator=g), torch.randn(3, 96, 5, generator=g)
    config = TrainConfig(steps=25, batch_size=32, lr=0.05)
    together = _clip_fit(x, t, config).params
    init = linear.init_clip(3, 6, 5, 4, seed=0)
    for m in range(3):
        params = {k: v[m:m + 1].clone() for k, v in init.items()}

        def loss_fn(p, idx, m=m):
            return clip_loss(linear.encode(p["image"], x[m:m + 1, idx]), linear.encode(p["text"], t[m:m + 1, idx]),
                             p["logit_scale"].exp())

        alone = train(params, loss_fn, 96, config, device=CPU).params
        for k in init:
            torch.testing.assert_close(together[k][m:m + 1], alone[k], atol=1e-5, rtol=1e-4)


def test_same_seed_same_numbers_and_training_lowers_the_loss():
    g = torch.Generator().manual_seed(2)
    x, t = torch.randn(2, 64, 6, generator=g), torch.randn(2, 64, 6, generator=g)
    config = TrainConfig(steps=30, batch_size=16, lr=0.05, log_every=10)
    first, second = _clip_fit(x, t, config), _clip_fit(x, t, config)
    for k in first.params:
        assert torch.equal(first.params[k], second.params[k])
    assert first.history.equals(second.history)
    loss = first.history[first.history.metric == "loss"].groupby("step").value.mean()
    assert loss.iloc[-1] < loss.iloc[0]
    assert sorted(loss.index) == [0, 10, 20, 30]


def test_resuming_from_a_checkpoint_reproduces_an_uninterrupted_run(tmp_path):
    g = torch.Generator().manual_seed(3)
    x, t = torch.randn(2, 50, 6, generator=g), torch.randn(2, 50, 6, generator=g)
    full = _clip_fit(x, t, TrainConfig(steps=20, batch_size=16, lr=0.05))
    ckpt = str(tmp_path / "run.pt")
    _clip_fit(x, t, TrainConfig(steps=10, batch_size=16, lr=0.05, checkpoint=ckpt, checkpoint_every=10))
    resumed = _clip_fit(x, t, TrainConfig(steps=20, batch_size=16, lr=0.05, checkpoint=ckpt, checkpoint_every=10))
    for k in full.params:
        torch.testing.assert_close(resumed.params[k], full.params[k])
    with pytest.raises(ValueError, match="another training configuration"):
        _clip_fit(x, t, TrainConfig(steps=20, batch_size=8, lr=0.05, checkpoint=ckpt))


def test_unknown_optimizer_is_a_clear_error():
    with pytest.raises(ValueError, match="optimizer"):
        _clip_fit(torch.randn(1, 8, 3), torch.randn(1, 8, 3), TrainConfig(steps=1, optimizer="lbfgs"))


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_one_step_moves_each_stacked_model_by_its_own_gradient(optimizer):
    """Worked out by hand: loss_m = mean_i (w_m . x_i)^2 has gradient mean_i 2 (w_m . x_i) x_i.
    SGD moves each model by -lr times it; Adam's first step by -lr times its sign. A loop that
    skipped the step, or averaged the models' losses instead of summing them (which divides each
    gradient by M), fails here."""
    w = torch.tensor([[1.0, 2.0], [3.0, -1.0]])  # two models, two weights each
    x = torch.tensor([[1.0, 0.0], [0.5, 1.0], [-1.0, 2.0]])

    def loss_fn(p, idx):
        return ((p["w"][:, None, :] * x[idx]).sum(-1) ** 2).mean(-1)

    config = TrainConfig(steps=1, batch_size=len(x), lr=0.1, optimizer=optimizer)
    trained = train({"w": w}, loss_fn, len(x), config, device=CPU).params["w"]
    gradient = torch.stack([(2 * (x @ w_m)[:, None] * x).mean(0) for w_m in w])
    step = gradient if optimizer == "sgd" else gradient.sign()
    torch.testing.assert_close(trained, w - 0.1 * step, atol=1e-6, rtol=0)


def test_the_cosine_schedule_warms_up_linearly_then_decays_to_zero():
    config = TrainConfig(steps=110, lr=1.0, schedule="cosine", warmup=10)
    lrs = [learning_rate(s, config) for s in range(110)]
    assert lrs[:10] == pytest.approx([(s + 1) / 10 for s in range(10)])
    assert lrs[10] == pytest.approx(1.0) and lrs[60] == pytest.approx(0.5) and lrs[-1] == pytest.approx(
        0.5 * (1 + math.cos(math.pi * 99 / 100)))
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    assert learning_rate(50, TrainConfig(lr=0.3)) == 0.3
    with pytest.raises(ValueError, match="schedule"):
        learning_rate(0, TrainConfig(schedule="step"))


def test_training_follows_the_schedule_and_resumes_on_it(tmp_path):
    # plain SGD on loss = w: each step moves w by exactly the learning rate of that step
    config = TrainConfig(steps=20, batch_size=1, lr=1.0, optimizer="sgd", schedule="cosine", warmup=5)

    def loss_fn(params, idx):
        return params["w"].sum(dim=1)

    result = train({"w": torch.zeros(1, 1)}, loss_fn, 4, config, device=torch.device("cpu"))
    expected = -sum(learning_rate(s, config) for s in range(20))
    assert result.params["w"].item() == pytest.approx(expected, rel=1e-5)
    # the checkpoint holds step 16; a resumed run does the last four steps on the same schedule
    with_checkpoints = replace(config, checkpoint=str(tmp_path / "c.pt"), checkpoint_every=8)
    train({"w": torch.zeros(1, 1)}, loss_fn, 4, with_checkpoints, device=torch.device("cpu"))
    assert torch.load(tmp_path / "c.pt", weights_only=False)["step"] == 16
    resumed = train({"w": torch.zeros(1, 1)}, loss_fn, 4, with_checkpoints, device=torch.device("cpu"))
    assert resumed.params["w"].item() == pytest.approx(expected, rel=1e-5)


def _linear_clip_problem(m=4, n=64, d=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    x, t = torch.randn(m, n, d, generator=g), torch.randn(m, n, d, generator=g)

    def loss_fn(p, idx):
        return clip_loss(linear.encode(p["image"], x[:, idx]), linear.encode(p["text"], t[:, idx]), p["logit_scale"].exp())

    return linear.init_clip(m, d, d, 3), loss_fn


def test_a_compiled_loss_trains_the_same_models_up_to_float_rounding():
    params, loss_fn = _linear_clip_problem()
    config = TrainConfig(steps=30, batch_size=16, log_every=10)
    eager = train(params, loss_fn, 64, config, device=CPU)
    compiled = train(params, loss_fn, 64, config, device=CPU, compiled=True)
    for k in params:
        torch.testing.assert_close(compiled.params[k], eager.params[k], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(torch.tensor(compiled.history.value.to_numpy()),
                               torch.tensor(eager.history.value.to_numpy()), rtol=1e-4, atol=1e-5)


def test_compiling_is_for_the_cpu_and_can_be_switched_off(monkeypatch):
    from clipbook.training.loop import compiles

    monkeypatch.delenv("CLIPBOOK_COMPILE", raising=False)
    assert compiles(CPU) and not compiles(torch.device("cuda")) and not compiles(torch.device("meta"))
    monkeypatch.setenv("CLIPBOOK_COMPILE", "0")
    assert not compiles(CPU)
    calls = []
    monkeypatch.setattr(torch, "compile", lambda fn: calls.append(fn) or fn)
    params, loss_fn = _linear_clip_problem()
    train(params, loss_fn, 64, TrainConfig(steps=2, batch_size=16), device=CPU, compiled=True)
    assert calls == []  # switched off: the loss runs as written
    monkeypatch.setenv("CLIPBOOK_COMPILE", "1")
    train(params, loss_fn, 64, TrainConfig(steps=2, batch_size=16), device=CPU, compiled=True)
    assert calls == [loss_fn]
