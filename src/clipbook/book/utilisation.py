"""How near the machine's limit the book's trainer runs, and what each speed lever buys.

Speed buys seeds. To know how much is left to buy, the bench compares the trainer with what the
machine can do: the peak of a large matrix product (FP32 on a CPU, bf16 on a GPU) against the
FLOPs a training step of each chapter's tower does (counted by torch's FLOP counter with the
attention written out as matrix products, forward and backward; the optimizer's elementwise
update, about 1% of a step, is not counted) divided by the step's time in the book's own loop.

The towers are those the chapters train, in the chapters' settings (:data:`TOWERS`), on noise
images and short captions: a step's cost does not depend on what the images show.
"""

from __future__ import annotations

import os
import tempfile
import time
from contextlib import contextmanager, nullcontext
from typing import Callable, NamedTuple

import open_clip
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from clipbook.data.captions import WordTokenizer
from clipbook.device import num_threads
from clipbook.models import linear
from clipbook.models.towers import create_clip, create_simclr, create_supervised
from clipbook.training.loop import LossFn, Params, TrainConfig, train
from clipbook.training.losses import clip_loss
from clipbook.training.stacked import StackedModels, clip_loss_fn, simclr_loss_fn, supervised_loss_fn

N_IMAGES = 2048
"""Images a timed run draws its batches from."""


def random_pairs(n: int, image_size: int, seed: int = 0) -> tuple[torch.Tensor, list[str]]:
    """Noise images and short captions (nine tokens with start and end): throughput does not
    depend on what they show."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, image_size, image_size), dtype=torch.uint8, generator=g)
    words = ("red", "blue", "small", "large", "circle", "square", "star", "ring", "striped", "dotted")
    picks = torch.randint(len(words), (n, 3), generator=g).tolist()
    return images, [f"a photo of a {words[a]} {words[b]} {words[c]}" for a, b, c in picks]


def matmul_peak(device: torch.device = torch.device("cpu"), dtype: torch.dtype = torch.float32, n: int | None = None,
                repeats: int = 5) -> float:
    """GFLOP/s of the best of ``repeats`` ``n x n`` matrix products (2048 on a CPU, 8192 on a
    GPU): the rate the BLAS reaches on this machine with torch's current threads, the ceiling a
    training step is measured against."""
    n = n or (8192 if device.type == "cuda" else 2048)  # a GPU needs a larger product to reach its peak
    a, b = (torch.randn(n, n, device=device).to(dtype) for _ in range(2))
    best = float("inf")
    for _ in range(repeats + 1):  # the first product warms up the BLAS
        _sync(device)
        started = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - started)
    return 2 * n ** 3 / best / 1e9


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Trainable(NamedTuple):
    """What the book's loop trains: stacked parameters and buffers, and their loss on a batch."""

    params: Params
    buffers: Params
    loss_fn: LossFn
    n_samples: int = N_IMAGES


def stacked(stack: StackedModels, loss_fn: LossFn, n_samples: int = N_IMAGES) -> Trainable:
    """The loop's view of stacked models."""
    return Trainable(stack.params, stack.buffers, loss_fn, n_samples)


def _clip(name: str, context_length: int, device: torch.device, layout=None, **overrides) -> Trainable:
    images, captions = random_pairs(N_IMAGES, 32)
    tokenizer = (open_clip.get_tokenizer(name) if name.endswith("-bpe")
                 else WordTokenizer(context_length=context_length))
    stack = StackedModels([create_clip(name, **overrides)], device, layout)
    return stacked(stack, clip_loss_fn(stack, images, tokenizer(captions)))


def _supervised(device: torch.device, layout=None) -> Trainable:
    images, _ = random_pairs(N_IMAGES, 32)
    labels = torch.randint(10, (N_IMAGES,), generator=torch.Generator().manual_seed(0))
    stack = StackedModels([create_supervised("tiny-rn", 10)], device, layout)
    return stacked(stack, supervised_loss_fn(stack, images, labels))


def _simclr(device: torch.device, layout=None) -> Trainable:
    images, _ = random_pairs(N_IMAGES, 32)
    stack = StackedModels([create_simclr("tiny-rn")], device, layout)
    return stacked(stack, simclr_loss_fn(stack, images, seed=0))


def random_latents(n_models: int, n: int, dim: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Image and caption inputs ``(n_models, n, dim)`` for linear CLIPs: noise, as for the towers."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n_models, n, dim, generator=g), torch.randn(n_models, n, dim, generator=g)


def linear_clip(x: torch.Tensor, t: torch.Tensor, embed_dim: int = 8) -> Trainable:
    """Linear CLIPs, one per leading index of image inputs ``x`` and caption inputs ``t``
    ``(M, n, dim)``, with open_clip's loss at their learned temperature."""

    def loss_fn(params: Params, idx: torch.Tensor) -> torch.Tensor:
        return clip_loss(linear.encode(params["image"], x[:, idx]), linear.encode(params["text"], t[:, idx]),
                         params["logit_scale"].exp())

    return Trainable(linear.init_clip(x.shape[0], x.shape[-1], t.shape[-1], embed_dim), {}, loss_fn, x.shape[1])


def _linear_clip(device: torch.device, layout=None, n_models: int = 32, dim: int = 32) -> Trainable:
    return linear_clip(*(inputs.to(device) for inputs in random_latents(n_models, N_IMAGES, dim)))


TOWERS: dict[str, Callable[..., Trainable]] = {
    "tiny-vit-bpe CLIP (bench, open_clip_train's model)": lambda d, layout=None: _clip("tiny-vit-bpe", 77, d, layout),
    "tiny-vit CLIP (Chapter 2)": lambda d, layout=None: _clip(
        "tiny-vit", 24, d, layout, text_cfg={"context_length": 24, "layers": 1}),
    "tiny-rn CLIP (Chapter 4)": lambda d, layout=None: _clip(
        "tiny-rn", 24, d, layout, text_cfg={"context_length": 24, "layers": 1}),
    "tiny-rn supervised (Chapter 4)": _supervised,
    "tiny-rn SimCLR (Chapter 4)": _simclr,
    "tiny-vit CLIP (Chapter 5)": lambda d, layout=None: _clip(
        "tiny-vit", 12, d, layout, vision_cfg={"layers": 1}, text_cfg={"context_length": 12, "layers": 1}),
    "32 linear CLIPs, batched (Chapters 1, 3 and 6)": _linear_clip,
}
"""Each tower a chapter trains, built as the chapter builds it: ``TOWERS[name](device, layout)``."""


def flops_per_sample(model: Trainable, batch_size: int = 32) -> float:
    """Forward and backward FLOPs of one training sample (all stacked models together), counted
    on one batch with the attention written out as matrix products (the fused CPU kernel is
    invisible to the counter)."""
    params = {k: v.detach().clone().requires_grad_(True) for k, v in model.params.items()}
    with FlopCounterMode(display=False) as counter, sdpa_kernel(SDPBackend.MATH):
        model.loss_fn(params, torch.arange(batch_size)).sum().backward()
    return counter.get_total_flops() / batch_size


class Steps(NamedTuple):
    """One timed run: seconds between successive loss evaluations, and the losses."""

    seconds: torch.Tensor
    losses: torch.Tensor


def timed_steps(model: Trainable, config: TrainConfig, threads: int, device: torch.device,
                lever: Callable[[], object] = nullcontext) -> Steps:
    """The book's loop (:func:`~clipbook.training.loop.train`) on ``model`` at ``threads`` torch
    threads, each loss evaluated inside ``lever()``; on a GPU each stamp waits for the previous
    step's kernels, so that the stamps time whole steps."""
    stamps, losses = [], []

    def timed_loss(params: Params, idx: torch.Tensor) -> torch.Tensor:
        _sync(device)
        stamps.append(time.perf_counter())
        with lever():
            loss = model.loss_fn(params, idx)
        losses.append(loss.detach().float().cpu())
        return loss

    with num_threads(threads):
        train(model.params, timed_loss, model.n_samples, config, desc="bench", device=device, buffers=model.buffers)
    return Steps(torch.diff(torch.tensor(stamps, dtype=torch.float64)), torch.stack(losses))


def median_step(steps: Steps, warmup: int = 2) -> float:
    """The median step time after ``warmup`` steps (first-call costs), which load spikes disturb less than a mean."""
    return steps.seconds[warmup:].median().item()


def utilisation(threads: int = 1, batch_size: int = 128, steps: int = 20, device: torch.device = torch.device("cpu"),
                peak_dtype: torch.dtype = torch.float32, towers: dict | None = None) -> dict:
    """For each tower: FLOPs per sample, samples/s in the book's loop at ``threads`` threads,
    GFLOP/s and the share of the matrix-product peak at the same threads."""
    towers = TOWERS if towers is None else towers
    config = TrainConfig(steps=steps, batch_size=batch_size, lr=5e-4)
    with num_threads(threads):
        peak = matmul_peak(device, peak_dtype)
    out = {"device": str(device), "threads": threads, "batch_size": batch_size, "peak_gflops": round(peak, 1),
           "peak": f"{str(peak_dtype).removeprefix('torch.')} matrix product", "towers": {}}
    for name, build in towers.items():
        model = build(device)
        flops = flops_per_sample(model)
        rate = batch_size / median_step(timed_steps(model, config, threads, device))
        out["towers"][name] = {"mflop_per_sample": round(flops / 1e6, 2), "samples_per_s": round(rate, 1),
                               "gflops": round(rate * flops / 1e9, 1), "share_of_peak": round(rate * flops / 1e9 / peak, 3)}
    return out


def _math_attention():
    return sdpa_kernel(SDPBackend.MATH)


def levers(threads: int = 1, batch_size: int = 128, steps: int = 20, device: torch.device = torch.device("cpu"),
           towers: dict | None = None) -> dict:
    """Each lever against the book's trainer as it stands, tower by tower: its speedup (ratio of
    median step times, same batches, same initial weights) and the largest difference it makes to
    a loss over the run (0: bit-identical).

    - ``math_attention``: attention as plain matrix products instead of the fused kernel;
    - ``plain_layout``: the images in the contiguous layout instead of :func:`image_layout`'s
      (a speedup below 1 is what the book's layout buys).
    """
    towers = TOWERS if towers is None else towers
    config = TrainConfig(steps=steps, batch_size=batch_size, lr=5e-4)
    out = {"threads": threads, "batch_size": batch_size, "towers": {}}
    for name, build in towers.items():
        base = timed_steps(build(device), config, threads, device)
        arms = {"math_attention": timed_steps(build(device), config, threads, device, _math_attention),
                "plain_layout": timed_steps(build(device, torch.contiguous_format), config, threads, device)}
        out["towers"][name] = {lever: {"speedup": round(median_step(base) / median_step(arm), 2),
                                       "max_loss_difference": float((arm.losses - base.losses).abs().max())}
                               for lever, arm in arms.items()}
    return out


@contextmanager
def _inductor_cache(folder: str):
    saved = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = folder
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("TORCHINDUCTOR_CACHE_DIR")
        else:
            os.environ["TORCHINDUCTOR_CACHE_DIR"] = saved


def compiled(threads: int = 1, batch_size: int = 128, steps: int = 20, device: torch.device = torch.device("cpu"),
             towers: dict | None = None) -> dict:
    """``torch.compile`` (inductor) of each tower's loss, forward and backward, against eager: the
    speedup of a step, the seconds the first step takes with an empty compile cache (a reader's
    first run, and CI) and with a warm one (a second run, the cache in a folder kept between
    runs), and the seconds a chapter must train this tower for the cold compile to pay."""
    towers = TOWERS if towers is None else towers
    config = TrainConfig(steps=steps, batch_size=batch_size, lr=5e-4)
    out = {"threads": threads, "batch_size": batch_size, "towers": {}}
    with tempfile.TemporaryDirectory() as cache, _inductor_cache(cache):
        for name, build in towers.items():
            eager = median_step(timed_steps(build(device), config, threads, device))
            first = {}
            for run in ("cold", "warm"):
                torch._dynamo.reset()  # forget compiled code in memory; the warm run finds it in the cache folder
                model = build(device)
                model = model._replace(loss_fn=torch.compile(model.loss_fn))
                run_steps = timed_steps(model, config, threads, device)
                first[run] = run_steps.seconds[0].item()
            speedup = eager / median_step(run_steps)
            saved_share = 1 - 1 / speedup
            out["towers"][name] = {"speedup": round(speedup, 2), "first_step_cold_s": round(first["cold"], 1),
                                   "first_step_warm_s": round(first["warm"], 1),
                                   "pays_after_training_s": (round(first["cold"] / saved_share)
                                                             if saved_share > 0 else "never")}
    torch._dynamo.reset()
    return out
