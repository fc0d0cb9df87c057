"""One training loop for every chapter: batched models, seeded, device-agnostic, resumable.

``params`` is a dict of tensors whose leading axis indexes ``M`` independent models and
``loss_fn(params, batch_indices)`` returns their ``M`` losses. Adam and SGD act elementwise, so
one optimizer over stacked tensors trains every model exactly as if it were alone; a test
checks this against an unbatched run.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Literal

import pandas as pd
import torch

from clipbook.device import autocast, default_device
from clipbook.progress import progress

Params = dict[str, torch.Tensor]
LossFn = Callable[[Params, torch.Tensor], torch.Tensor]
MetricsFn = Callable[[Params], dict[str, torch.Tensor]]


@dataclass(frozen=True)
class TrainConfig:
    """The optimizer budget; chapters give every compared method the same one."""

    steps: int = 500
    batch_size: int = 256
    lr: float = 1e-2
    weight_decay: float = 0.0
    optimizer: Literal["adam", "sgd"] = "adam"
    log_every: int = 0  # 0: log only the first and last step
    schedule: Literal["constant", "cosine"] = "constant"  # cosine: linear warm-up, then cosine decay to 0
    warmup: int = 0  # warm-up steps of the cosine schedule
    seed: int = 0
    checkpoint: str | None = None  # file to save to every `checkpoint_every` steps and resume from
    checkpoint_every: int = 1000


@dataclass
class TrainResult:
    params: Params
    history: pd.DataFrame  # long format: step, model, metric, value
    seconds: float


def _optimizer(params: Params, config: TrainConfig) -> torch.optim.Optimizer:
    tensors = list(params.values())
    # one fused kernel per step instead of ~10 passes per tensor: 8x faster on CPU for a BPE embedding
    fused = tensors[0].device.type in ("cpu", "cuda")
    if config.optimizer == "adam":
        return torch.optim.Adam(tensors, lr=config.lr, weight_decay=config.weight_decay, fused=fused)
    if config.optimizer == "sgd":
        return torch.optim.SGD(tensors, lr=config.lr, weight_decay=config.weight_decay, fused=fused)
    raise ValueError(f"optimizer must be 'adam' or 'sgd', not {config.optimizer!r}")


def learning_rate(step: int, config: TrainConfig) -> float:
    """The learning rate at ``step``: constant, or CLIP's schedule (a linear warm-up over
    ``warmup`` steps, then a cosine decay to zero at ``steps``). A pure function of the step, so a
    resumed run continues the schedule where it stopped."""
    if config.schedule == "constant":
        return config.lr
    if config.schedule != "cosine":
        raise ValueError(f"schedule must be 'constant' or 'cosine', not {config.schedule!r}")
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    decayed = (step - config.warmup) / max(1, config.steps - config.warmup)
    return config.lr * 0.5 * (1 + math.cos(math.pi * decayed))


def _batches(n_samples: int, batch_size: int, seed: int, start_step: int = 0):
    """Minibatch indices from ``start_step`` on: a seeded permutation per epoch (the full set
    if it fits), a pure function of (seed, step) so that a resumed run sees the same batches."""
    batch_size = min(batch_size, n_samples)
    per_epoch = n_samples // batch_size
    epoch, offset = divmod(start_step, per_epoch)
    while True:
        order = torch.randperm(n_samples, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
        for b in range(offset, per_epoch):
            yield order[b * batch_size:(b + 1) * batch_size]
        epoch, offset = epoch + 1, 0


def _snapshot(step: int, losses: torch.Tensor, params: Params, metrics: MetricsFn | None) -> list[dict]:
    values = {"loss": losses}
    if metrics is not None:
        with torch.no_grad():
            values |= metrics(params)
    return [
        {"step": step, "model": m, "metric": name, "value": float(v)}
        for name, vector in values.items()
        for m, v in enumerate(vector.detach().float().cpu())
    ]


def compiles(device: torch.device) -> bool:
    """Whether :func:`train` compiles a loss it is asked to: on a CPU, unless ``CLIPBOOK_COMPILE=0``.

    ``torch.compile`` (inductor) fuses a step's many small ops into a few loops: on one CPU thread
    at batch 128 a step of 32 linear CLIPs runs 1.9 times faster, of tiny-vit's CLIP 1.4 times and
    of tiny-rn's 1.3 times (``python -m clipbook bench --only compile``). But each process pays
    for it at its first step, 5 s (linear) to 40 s (tiny-rn) per loss with an empty cache, 0.2 to
    4 s with the cache torch keeps between runs, and a chapter must gain that back with the
    models it trains. Measured per chapter from an empty cache (2 cores), only Chapter 3's
    conditioning sweep gains (202 s to 150 s): Chapter 1 breaks even (106 s, 103 s), and
    Chapters 2 and 5, whose towers train a few hundred steps each, lose (205 to 242 s, 179 to
    218 s). So only the conditioning sweep asks. Not measured on a GPU, where losses run as
    written. The same sums in another order: losses differ from eager ones by float32 rounding.
    """
    return device.type == "cpu" and os.environ.get("CLIPBOOK_COMPILE", "1") != "0"


def _compile(loss_fn: LossFn) -> LossFn:
    # inductor's C++ toolchain probe warns on a machine without CUDA that it found no CUDA runtime:
    # true, harmless for a CPU build, and not a line for a chapter's output
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    return torch.compile(loss_fn)


def train(params: Params, loss_fn: LossFn, n_samples: int, config: TrainConfig, *,
          metrics: MetricsFn | None = None, desc: str = "training", device: torch.device | None = None,
          buffers: Params | None = None, compiled: bool = False) -> TrainResult:
    """Train ``M`` stacked models on minibatches of ``n_samples`` with the summed loss.

    ``buffers`` are tensors on ``device`` that ``loss_fn`` updates in place (BatchNorm running
    statistics): they are not optimized, but saved with checkpoints and restored on resume.
    ``compiled``: the training steps run ``loss_fn`` compiled, where :func:`compiles` says so
    (torch caches the compiled code by the function's code, so every model a chapter trains with
    one loss shares it); the final evaluation runs it as written.
    """
    device = device or default_device()
    params = {k: v.detach().to(device).clone().requires_grad_(True) for k, v in params.items()}
    buffers = buffers or {}
    optimizer = _optimizer(params, config)
    rows: list[dict] = []
    start_step = 0
    ckpt = Path(config.checkpoint) if config.checkpoint else None
    if ckpt is not None and ckpt.exists():
        start_step, rows = _resume(ckpt, params, buffers, optimizer, config)

    step_loss = _compile(loss_fn) if compiled and compiles(device) else loss_fn
    batches = _batches(n_samples, config.batch_size, config.seed, start_step)
    started = time.perf_counter()
    bar = progress(range(start_step, config.steps), desc=desc, initial=start_step, total=config.steps)
    for step in bar:
        with autocast(device):
            losses = step_loss(params, next(batches).to(device))
        if step == 0 or (config.log_every and step % config.log_every == 0):
            rows += _snapshot(step, losses, params, metrics)
        optimizer.zero_grad(set_to_none=True)
        losses.sum().backward()
        if config.schedule != "constant":
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step, config)
        optimizer.step()
        if ckpt is not None and (step + 1) % config.checkpoint_every == 0:
            _save(ckpt, step + 1, params, buffers, optimizer, rows, config)
    with torch.no_grad(), autocast(device):
        final = loss_fn(params, next(batches).to(device))
    rows += _snapshot(config.steps, final, params, metrics)
    trained = {k: v.detach() for k, v in params.items()}
    return TrainResult(trained, pd.DataFrame(rows), time.perf_counter() - started)


def _save(path: Path, step: int, params: Params, buffers: Params, optimizer, rows, config: TrainConfig) -> None:
    """Atomic checkpoint: a crash mid-write never destroys the previous one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save({"step": step, "params": params, "buffers": buffers, "optimizer": optimizer.state_dict(),
                "rows": rows, "config": asdict(config)}, tmp)
    tmp.replace(path)


def _resume(path: Path, params: Params, buffers: Params, optimizer, config: TrainConfig) -> tuple[int, list[dict]]:
    state = torch.load(path, weights_only=False)
    if {k: v for k, v in state["config"].items() if k != "steps"} != {k: v for k, v in asdict(config).items() if k != "steps"}:
        raise ValueError(f"checkpoint {path} was written with another training configuration; delete it to start over")
    with torch.no_grad():
        for k, v in state["params"].items():
            params[k].copy_(v)
        for k, v in state.get("buffers", {}).items():
            buffers[k].copy_(v)
    optimizer.load_state_dict(state["optimizer"])
    return state["step"], state["rows"]
