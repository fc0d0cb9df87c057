"""``make gpu-check``: the CUDA and bf16 path, checked in one short run where a GPU is at hand.

Every chapter's smoke profile on the GPU (the library picks CUDA and bf16 autocast by itself),
every chapter's tower in the book's trainer (samples per second, counted FLOPs, and the share of
the card's bf16 matrix-product peak, measured: :func:`~clipbook.book.utilisation.utilisation`),
and ``open_clip_train`` under ``torchrun`` for one short epoch. Where no GPU exists it says so
in one line and does nothing.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

import torch

from clipbook.book import runner
from clipbook.book.utilisation import random_pairs, utilisation
from clipbook.models.towers import model_config
from clipbook.training.launcher import export_csv, export_model_config, open_clip_train_command, read_train_log

NO_GPU = "gpu-check: no CUDA device here; nothing to check (run it where a GPU is at hand)"


def _chapters(folder: Path) -> dict:
    out = {}
    for chapter in runner.chapters():
        started = time.perf_counter()
        path = runner.run(chapter, profile="smoke", output=folder / f"{chapter.stem}.ipynb", progress=False)
        out[chapter.slug] = {"seconds": round(time.perf_counter() - started, 1),
                             "verdicts": {c["id"]: c["verdict"] for c in runner.read_record(path)["claims"]}}
    return out


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
                "chapters_smoke": _chapters(Path(tmp)),
                "utilisation": utilisation(threads=torch.get_num_threads(), batch_size=512, device=device,
                                           peak_dtype=torch.bfloat16),
                "open_clip_train_torchrun": _open_clip_train(Path(tmp))}
