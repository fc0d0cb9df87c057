"""One model on real image files: a supervised training loop with per-epoch checkpoints.

The book's own loop (:mod:`clipbook.training.loop`) trains stacks of models on cached tensors; real
data sets (ImageNet-Captions, the ImageNet test sets) are files decoded and augmented by
DataLoader workers, one big model at a time. CLIP on such data trains with ``open_clip_train``
(:mod:`clipbook.training.launcher`); its supervised counterpart trains here, with the same augmentation,
AdamW with a cosine schedule, bf16 autocast on CUDA, and one checkpoint per epoch that a rerun
resumes from.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from clipbook.device import autocast, default_device
from clipbook.progress import progress

_EPOCH_FILE = re.compile(r"epoch_(\d+)\.pt$")


def epoch_checkpoints(folder: str | Path) -> dict[int, Path]:
    """``epoch_K.pt`` files in ``folder`` (the names ``open_clip_train`` uses too), by epoch."""
    folder = Path(folder)
    found = {int(m.group(1)): p for p in folder.glob("epoch_*.pt") if (m := _EPOCH_FILE.search(p.name))}
    return dict(sorted(found.items()))


def loader(dataset: Dataset, batch_size: int, workers: int, shuffle: bool, seed: int = 0) -> DataLoader:
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, num_workers=workers, generator=generator,
                      pin_memory=torch.cuda.is_available(), drop_last=shuffle)


def _cosine(optimizer: torch.optim.Optimizer, warmup: int, total: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up, then cosine decay to zero, per step (open_clip_train's schedule)."""
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def train_classifier(model: nn.Module, dataset: Dataset, folder: str | Path, *, epochs: int, batch_size: int = 256,
                     lr: float = 5e-4, weight_decay: float = 0.1, warmup: int = 0, workers: int = 4, seed: int = 0,
                     device: torch.device | None = None) -> dict[int, Path]:
    """Cross-entropy training of ``model`` (images -> logits) on ``(image, label)`` pairs.

    Writes ``folder/epoch_K.pt`` after every epoch (model, optimizer and schedule); a rerun
    resumes after the last one found and returns every epoch's checkpoint. Shuffling is seeded
    per epoch (order and augmentation), so a resumed run sees the batches an uninterrupted one would.
    """
    device = device or default_device()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = model.to(device)
    decay = [p for p in model.parameters() if p.ndim >= 2]
    rest = [p for p in model.parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                                   {"params": rest, "weight_decay": 0.0}], lr=lr)
    steps_per_epoch = len(dataset) // batch_size
    if steps_per_epoch == 0:
        raise ValueError(f"{len(dataset)} training images do not fill one batch of {batch_size}")
    schedule = _cosine(optimizer, warmup, epochs * steps_per_epoch)
    done = epoch_checkpoints(folder)
    start = max(done, default=0)
    if start:
        state = torch.load(done[start], map_location=device, weights_only=True)
        model.load_state_dict(state["state_dict"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
    for epoch in range(start + 1, epochs + 1):
        model.train()
        torch.manual_seed(seed * 100_003 + epoch)  # augmentation in the main process draws from the global RNG
        batches = loader(dataset, batch_size, workers, shuffle=True, seed=seed * 100_003 + epoch)
        for images, labels in progress(batches, desc=f"supervised epoch {epoch}/{epochs}", leave=False):
            images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            with autocast(device):
                loss = F.cross_entropy(model(images), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        torch.save({"epoch": epoch, "state_dict": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "schedule": schedule.state_dict()}, folder / f"epoch_{epoch}.pt")
    return epoch_checkpoints(folder)
