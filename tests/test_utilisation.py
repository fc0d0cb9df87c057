"""The bench's utilisation figures: FLOPs counted right, steps timed in the book's own loop, levers compared fairly."""

import os
from contextlib import contextmanager

import torch
from torch.utils.flop_counter import FlopCounterMode

from clipbook.book import utilisation as u
from clipbook.models.towers import create_clip
from clipbook.training.loop import TrainConfig
from clipbook.training.stacked import StackedModels, image_layout, pixels


def _linear(d: int = 6, k: int = 4, n: int = 64) -> u.Trainable:
    x = torch.randn(n, d)

    def loss_fn(params, idx):
        return (x[idx] @ params["w"][0]).square().mean().reshape(1)

    return u.Trainable({"w": torch.randn(1, d, k)}, {}, loss_fn, n)


def test_the_flop_count_of_a_linear_map_is_the_hand_count():
    # forward x @ W: 2dk per sample; backward dL/dW = x^T g: 2dk more (x needs no gradient)
    assert u.flops_per_sample(_linear(6, 4), batch_size=8) == 4 * 6 * 4


def test_the_flop_count_sees_the_attention_that_the_fused_kernel_hides():
    model = u.TOWERS["tiny-vit CLIP (Chapter 5)"](torch.device("cpu"))
    params = {k: v.clone().requires_grad_(True) for k, v in model.params.items()}
    with FlopCounterMode(display=False) as fused:  # torch's CPU attention kernel: not counted
        model.loss_fn(params, torch.arange(4)).sum().backward()
    counted = u.flops_per_sample(model, batch_size=4)
    assert 1e6 < fused.get_total_flops() / 4 < counted < 1e8


def test_timed_steps_time_every_step_of_the_loop_inside_the_lever():
    entered = []

    @contextmanager
    def lever():
        entered.append(1)
        yield

    steps = u.timed_steps(_linear(), TrainConfig(steps=5, batch_size=16), threads=1, device=torch.device("cpu"),
                          lever=lever)
    assert len(steps.seconds) == 5 and (steps.seconds > 0).all()
    assert len(steps.losses) == 6 and len(entered) == 6  # five steps and the loop's final evaluation


def test_utilisation_is_the_counted_rate_over_the_measured_peak():
    figure = u.utilisation(threads=1, batch_size=16, steps=4, towers={"linear": lambda device: _linear()})
    row = figure["towers"]["linear"]
    assert row["mflop_per_sample"] == round(4 * 6 * 4 / 1e6, 2) and figure["peak_gflops"] > 0
    assert abs(row["share_of_peak"] - row["gflops"] / figure["peak_gflops"]) < 0.01 + row["share_of_peak"] * 0.05


def test_a_lever_that_changes_no_arithmetic_leaves_every_loss_bit_identical():
    tower = {"vit": lambda device, layout=None: u.TOWERS["tiny-vit CLIP (Chapter 5)"](device, layout)}
    figure = u.levers(threads=1, batch_size=8, steps=3, towers=tower)["towers"]["vit"]
    assert figure["plain_layout"]["max_loss_difference"] == 0.0  # a ViT trains in the plain layout already
    assert figure["math_attention"]["speedup"] > 0


def test_convolutional_towers_take_their_images_channels_last():
    rn, vit = create_clip("tiny-rn"), create_clip("tiny-vit")
    assert image_layout(rn.visual) == torch.channels_last and image_layout(vit.visual) == torch.contiguous_format
    images = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    assert pixels(images, rn.visual).is_contiguous(memory_format=torch.channels_last)
    assert StackedModels([rn], torch.device("cpu"), torch.contiguous_format).pixels(images).is_contiguous()
    assert torch.equal(pixels(images, rn.visual), pixels(images, vit.visual))  # the same values in either layout


def test_the_matmul_peak_is_a_rate():
    assert u.matmul_peak(n=128, repeats=2) > 0


def test_the_compile_figure_times_a_cold_and_a_warm_first_step_and_leaves_the_cache_setting_as_it_was(monkeypatch):
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    figure = u.compiled(threads=1, batch_size=16, steps=3, towers={"linear": lambda device: _linear()})
    row = figure["towers"]["linear"]
    assert row["speedup"] > 0 and row["first_step_cold_s"] >= 0 and row["first_step_warm_s"] >= 0
    assert row["pays_after_training_s"] == "never" or row["pays_after_training_s"] >= 0
    assert "TORCHINDUCTOR_CACHE_DIR" not in os.environ
