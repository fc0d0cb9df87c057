"""``make gpu-check``: the CUDA and bf16 path, checked in one short run where a GPU is at hand.

Every chapter's smoke profile on the GPU (the library picks CUDA and bf16 autocast by itself),
the book's trainer on a tiny open_clip model (samples per second, and the share of the card's
bf16 peak where the card is known), and ``open_clip_train`` under ``torchrun`` for one short
epoch. Where no GPU exists it says so in one line and does nothing.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

import open_clip
import torch
from torch.utils.flop_counter import FlopCounterMode

from clipbook.book import runner
from clipbook.book.bench import our_step_times, random_pairs
from clipbook.models.towers import create_clip, model_config
from clipbook.training.launcher import export_csv, export_model_config, open_clip_train_command, read_train_log
from clipbook.training.loop import TrainConfig

BF16_PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10": 125.0, "L4": 121.0}
"""Dense bf16 tensor-core peaks (TFLOP/s) of common cards, from their data sheets."""
NO_GPU = "gpu-check: no CUDA device here; nothing to check (run it where a GPU is at hand)"


def _chapters(folder: Path) -> dict:
    out = {}
    for chapter in runner.chapters():
        started = time.perf_counter()
        path = runner.run(chapter, profile="smoke", output=folder / f"{chapter.stem}.ipynb", progress=False)
        out[chapter.slug] = {"seconds": round(time.perf_counter() - started, 1),
                             "verdicts": {c["id"]: c["verdict"] for c in runner.read_record(path)["claims"]}}
    return out


def _flops_per_sample(model: str, images: torch.Tensor, tokens: torch.Tensor, device: torch.device) -> float:
    """Forward and backward FLOPs of one training pair (torch's FLOP counter on a small batch)."""
    clip = create_clip(model).to(device)
    with FlopCounterMode(display=False) as counter:
        image, text, scale = clip(images[:8].to(device).float() / 255, tokens[:8].to(device))
        (image @ text.T * scale).sum().backward()
    return counter.get_total_flops() / 8


def _trainer(device: torch.device, model: str = "tiny-vit-bpe", n: int = 8192, batch_size: int = 512) -> dict:
    images, captions = random_pairs(n, model_config(model)["vision_cfg"]["image_size"])
    tokens = open_clip.get_tokenizer(model)(captions)
    config = TrainConfig(steps=n // batch_size, batch_size=batch_size, lr=5e-4)
    steps = our_step_times(model, images, tokens, config, threads=torch.get_num_threads(), device=device)[2:]
    rate = batch_size / steps.median().item()
    tflops = rate * _flops_per_sample(model, images, tokens, device) / 1e12
    name = torch.cuda.get_device_name(device)
    peak = next((v for k, v in BF16_PEAK_TFLOPS.items() if k in name), None)
    return {"model": model, "batch_size": batch_size, "samples_per_s": round(rate), "tflops": round(tflops, 2),
            "share_of_bf16_peak": round(tflops / peak, 4) if peak else "unknown card"}


def _open_clip_train(folder: Path, model: str = "tiny-vit-bpe", n: int = 4096) -> dict:
    images, captions = random_pairs(n, model_config(model)["vision_cfg"]["image_size"])
    command = open_clip_train_command(export_csv(images, captions, folder / "data"), nproc_per_node=1,
                                      model=export_model_config(model, folder / "model"), logs=folder / "logs",
                                      name="gpu-check", batch_size=256, workers=2, precision="amp_bf16",
                                      extra=["--log-every-n-steps", "1"])
    done = subprocess.run(command, capture_output=True, text=True)
    log = folder / "logs" / "gpu-check" / "out.log"
    if done.returncode != 0 or not log.exists():
        return {"ok": False, "error": done.stderr[-1500:]}
    return {"ok": True, "median_samples_per_s": round(float(read_train_log(log).samples_per_s.median()))}


def gpu_check() -> dict | None:
    """The report, or None (after one line saying so) where there is no GPU."""
    if not torch.cuda.is_available():
        print(NO_GPU)
        return None
    device = torch.device("cuda")
    with tempfile.TemporaryDirectory() as tmp:
        return {"device": torch.cuda.get_device_name(device), "torch": torch.__version__,
                "chapters_smoke": _chapters(Path(tmp)), "trainer": _trainer(device),
                "open_clip_train_torchrun": _open_clip_train(Path(tmp))}
