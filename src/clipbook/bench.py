"""Performance figures of the book, as JSON (``python -m clipbook bench``)."""

from __future__ import annotations

import time

import torch

from clipbook.losses import clip_loss
from clipbook.models import linear
from clipbook.runner import CHAPTERS_OUT, chapters, read_record
from clipbook.train import TrainConfig, train


def _clip_problem(n_models: int, n: int, dim: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n_models, n, dim, generator=g), torch.randn(n_models, n, dim, generator=g)


def batched_trainer(n_models: int = 32, steps: int = 100, batch_size: int = 128, dim: int = 32,
                    embed_dim: int = 8) -> dict:
    """Linear CLIP models per second: one batched program vs. a plain loop over the same models."""
    x, t = _clip_problem(n_models, 2048, dim)
    config = TrainConfig(steps=steps, batch_size=batch_size)
    cpu = torch.device("cpu")

    def fit(xs, ts):
        params = linear.init_clip(xs.shape[0], dim, dim, embed_dim)

        def loss_fn(p, idx):
            return clip_loss(linear.encode(p["image"], xs[:, idx]), linear.encode(p["text"], ts[:, idx]),
                             p["logit_scale"].exp())

        return train(params, loss_fn, xs.shape[1], config, desc="bench", device=cpu).params

    started = time.perf_counter()
    fit(x, t)
    batched = time.perf_counter() - started
    started = time.perf_counter()
    for m in range(n_models):
        fit(x[m:m + 1], t[m:m + 1])
    looped = time.perf_counter() - started
    return {"models": n_models, "steps": steps, "batch_size": batch_size,
            "batched_model_steps_per_s": round(n_models * steps / batched, 1),
            "loop_model_steps_per_s": round(n_models * steps / looped, 1),
            "speedup": round(looped / batched, 2)}


def chapter_times() -> dict:
    """Each chapter's last run time at its default profile, from its run record."""
    out = {}
    for chapter in chapters():
        record = read_record(CHAPTERS_OUT / f"{chapter.stem}.ipynb")
        out[chapter.slug] = record["run"]["duration_s"] if record else None
    return out


def bench() -> dict:
    return {"threads": torch.get_num_threads(), "batched_linear_trainer": batched_trainer(),
            "chapter_run_time_s": chapter_times()}
