"""Performance figures of the book, as JSON (``python -m clipbook bench``)."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

import open_clip
import torch

from clipbook.book.runner import CHAPTERS_OUT, chapters, read_record
from clipbook.book.utilisation import (
    TOWERS,
    compiled,
    levers,
    linear_clip,
    random_latents,
    random_pairs,
    stacked,
    timed_steps,
    utilisation,
)
from clipbook.data.captions import WordTokenizer
from clipbook.data.render import benchmark_renderer
from clipbook.models.towers import create_clip, model_config
from clipbook.parallel import map_jobs, workers
from clipbook.training.launcher import (
    export_csv,
    export_model_config,
    open_clip_train_command,
    read_train_log,
)
from clipbook.training.loop import TrainConfig, train
from clipbook.training.stacked import StackedModels, clip_loss_fn, train_clip


def batched_trainer(n_models: int = 32, steps: int = 100, batch_size: int = 128, dim: int = 32,
                    embed_dim: int = 8, looped_models: int = 4) -> dict:
    """Linear CLIP model-steps per second: one batched program of ``n_models`` models vs. a plain
    loop over models one at a time, timed on the first ``looped_models`` (a loop's rate per model
    does not depend on how many follow, so timing all of them would only take longer)."""
    x, t = random_latents(n_models, 2048, dim)
    config = TrainConfig(steps=steps, batch_size=batch_size)

    def fit(xs, ts):
        model = linear_clip(xs, ts, embed_dim)
        return train(model.params, model.loss_fn, model.n_samples, config, desc="bench", device=torch.device("cpu"))

    fit(x[:1], t[:1])  # warm-up: first-call costs (allocator, kernels) belong to neither side
    started = time.perf_counter()
    fit(x, t)
    batched = time.perf_counter() - started
    started = time.perf_counter()
    for m in range(looped_models):
        fit(x[m:m + 1], t[m:m + 1])
    looped = time.perf_counter() - started
    batched_rate, loop_rate = n_models * steps / batched, looped_models * steps / looped
    return {"models": n_models, "steps": steps, "batch_size": batch_size,
            "batched_model_steps_per_s": round(batched_rate, 1), "loop_model_steps_per_s": round(loop_rate, 1),
            "speedup": round(batched_rate / loop_rate, 2)}


def _open_clip_train_step_times(model: str, images: torch.Tensor, captions: list[str], batch_size: int,
                                threads: int) -> torch.Tensor:
    """Seconds per step of one ``open_clip_train`` epoch (CPU, fp32, one process), data time removed."""
    with tempfile.TemporaryDirectory() as tmp:
        command = open_clip_train_command(
            export_csv(images, captions, Path(tmp) / "data"), model=export_model_config(model, Path(tmp) / "model"),
            logs=Path(tmp) / "logs", name="bench", batch_size=batch_size, workers=0, precision="fp32",
            device="cpu", extra=["--log-every-n-steps", "1"])
        env = os.environ | {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        subprocess.run(command, check=True, capture_output=True, env=env)
        log = read_train_log(Path(tmp) / "logs" / "bench" / "out.log")
    return torch.tensor((batch_size / log.samples_per_s - log.data_time).to_numpy())


def our_step_times(model: str, images: torch.Tensor, tokens: torch.Tensor, config: TrainConfig,
                   threads: int, device: torch.device = torch.device("cpu")) -> torch.Tensor:
    """Seconds per step of the book's loop training the open_clip ``model`` on these pairs
    (:func:`~clipbook.book.utilisation.timed_steps`)."""
    stack = StackedModels([create_clip(model)], device)
    trainable = stacked(stack, clip_loss_fn(stack, images, tokens), len(images))
    return timed_steps(trainable, config, threads, device).seconds


def trainer_vs_open_clip_train(model: str = "tiny-vit-bpe", n_images: int = 2000, batch_size: int = 128,
                               warmup_steps: int = 2, threads: int | None = None, repeats: int = 3) -> dict:
    """Training samples/s of the book's loop and of ``open_clip_train`` (CPU, fp32, one process) on
    the same model, images, captions, batch size and thread count; ``ratio`` is ours / theirs,
    each at its best of ``repeats`` trials (a shared CPU's load only ever slows a trial down).

    Both exclude data loading: ours trains on cached tensors, and from each step of
    open_clip_train's log (one line per step) its data time (PNG decoding, augmentation,
    tokenization) is subtracted. Both run one epoch and drop ``warmup_steps`` steps; in a trial
    ours runs once before and once after theirs, so that a change in the load hits both, and a
    trial's rate is from the median step time, which load spikes disturb less than a mean.
    """
    threads = threads or torch.get_num_threads()
    images, captions = random_pairs(n_images, model_config(model)["vision_cfg"]["image_size"])
    tokens = open_clip.get_tokenizer(model)(captions)
    config = TrainConfig(steps=n_images // batch_size, batch_size=batch_size, lr=5e-4)
    ours_rates, theirs_rates = [], []
    for _ in range(repeats):
        before = our_step_times(model, images, tokens, config, threads)[warmup_steps:]
        theirs = _open_clip_train_step_times(model, images, captions, batch_size, threads)[warmup_steps:]
        ours = torch.cat([before, our_step_times(model, images, tokens, config, threads)[warmup_steps:]])
        ours_rates.append(batch_size / ours.median().item())
        theirs_rates.append(batch_size / theirs.median().item())
    return {"model": model, "batch_size": batch_size, "timed_steps": len(theirs), "threads": threads,
            "trials": repeats, "ours_samples_per_s": round(max(ours_rates), 1),
            "open_clip_train_samples_per_s": round(max(theirs_rates), 1),
            "ratio": round(max(ours_rates) / max(theirs_rates), 2),
            "ratio_per_trial": [round(a / b, 2) for a, b in zip(ours_rates, theirs_rates)]}


def side_by_side(model: str = "tiny-vit", n_models: int = 4, steps: int = 100, batch_size: int = 64,
                 n_images: int = 1024) -> dict:
    """Wall seconds to train ``n_models`` independent CLIPs one after another on all torch threads,
    and side by side (:func:`~clipbook.parallel.map_jobs`, one thread each), as a chapter's sweep
    does; ``speedup`` is the first over the second."""
    config = model_config(model)
    images, captions = random_pairs(n_images, config["vision_cfg"]["image_size"])
    tokens = WordTokenizer(context_length=config["text_cfg"]["context_length"])(captions)  # the chapters' tokenizer
    cpu = torch.device("cpu")

    def train_one(seed: int) -> None:
        train_clip([create_clip(model, seed=seed)], images, tokens, TrainConfig(steps=steps, batch_size=batch_size),
                   device=cpu)

    train_one(0)  # warm-up: first-call costs belong to neither side
    started = time.perf_counter()
    for seed in range(n_models):
        train_one(seed)
    alone = time.perf_counter() - started
    started = time.perf_counter()
    map_jobs(train_one, range(n_models), cpu)
    together = time.perf_counter() - started
    return {"model": model, "models": n_models, "steps": steps, "workers": workers(cpu),
            "one_after_another_s": round(alone, 2), "side_by_side_s": round(together, 2),
            "speedup": round(alone / together, 2)}


def chapter_times() -> dict:
    """Each chapter's last run time at its default profile, from its run record."""
    out = {}
    for chapter in chapters():
        record = read_record(CHAPTERS_OUT / f"{chapter.stem}.ipynb")
        out[chapter.slug] = record["run"]["duration_s"] if record else None
    return out


def trainer_utilisation() -> dict:
    """The trainer on the bench's model at batch 128 on all threads, then every chapter's tower on
    one thread each (how a chapter trains them, side by side), against the peak at those threads."""
    bench_model = next(iter(TOWERS))
    return {"trainer": utilisation(threads=torch.get_num_threads(), towers={bench_model: TOWERS[bench_model]}),
            "chapter_towers": utilisation(threads=1)}


FIGURES = {"renderer": benchmark_renderer, "batched_linear_trainer": batched_trainer,
           "trainer_vs_open_clip_train": trainer_vs_open_clip_train, "side_by_side_training": side_by_side,
           "utilisation": trainer_utilisation, "levers": levers, "compile": compiled,
           "chapter_run_time_s": chapter_times}
"""Each figure of ``python -m clipbook bench`` (``--only NAME`` picks one)."""


def bench(only: str | None = None) -> dict:
    """Every figure, or the one named ``only`` (one of :data:`FIGURES`), with the thread count they ran on."""
    return {"threads": torch.get_num_threads()} | {name: figure() for name, figure in FIGURES.items()
                                                   if only in (None, name)}
