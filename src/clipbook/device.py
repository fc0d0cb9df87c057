"""Device selection and run environment: the same code on a laptop CPU and on a GPU."""

from __future__ import annotations

import os
import platform
from contextlib import contextmanager, nullcontext

import torch


def default_device() -> torch.device:
    """CUDA when present (or when ``CLIPBOOK_DEVICE`` names a device), else CPU."""
    name = os.environ.get("CLIPBOOK_DEVICE")
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast(device: torch.device):
    """bf16 autocast on CUDA; a no-op elsewhere (CPU runs stay in float32 and exact)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


@contextmanager
def num_threads(n: int):
    """Run torch CPU ops on ``n`` threads inside the block, restoring the count after.

    Tiny ops (a cache-sized render chunk, a small model's step) lose more to thread wake-ups than
    they gain on a 2-core machine, so hot loops of such ops pin themselves to one thread.
    """
    saved = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def describe_environment(device: torch.device | None = None) -> dict:
    """Versions and device, recorded with every chapter's results for the Reproducibility page."""
    import open_clip

    device = device or default_device()
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "open_clip": open_clip.__version__,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "cpu_threads": torch.get_num_threads(),
        "mkl_branch": os.environ.get("MKL_CBWR", "MKL's choice"),
        "platform": platform.platform(),
    }
