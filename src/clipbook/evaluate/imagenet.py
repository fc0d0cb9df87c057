"""ImageNet-style scoring of real models: logits over a test set of image files, and top-1
accuracy scored the way each ImageNet test set is customarily scored."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import open_clip
import torch
from torch.utils.data import Dataset

from clipbook.device import autocast, default_device
from clipbook.evaluate.classify import accuracy
from clipbook.models.towers import create_clip, create_supervised
from clipbook.progress import progress
from clipbook.training.image_files import loader

SUBSET_CLASSES = ("imagenet_r", "imagenet_a")
"""Test sets scored on their own 200 classes only (the other 800 logits are masked)."""


def imagenet_accuracy(logits: torch.Tensor, labels: torch.Tensor, name: str, dataset) -> float:
    """Top-1 accuracy of 1000-way ImageNet logits on one test set, scored as is customary:
    ImageNet-R and -A among their own 200 classes; ObjectNet by the best-scoring ImageNet class
    of each ObjectNet class (its labels are ObjectNet classes)."""
    if name == "objectnet":
        logits = torch.stack([logits[:, idx].max(1).values for idx in dataset.imagenet_indices], 1)
    elif name in SUBSET_CLASSES:
        kept = torch.tensor(dataset.class_indices)
        masked = torch.full_like(logits, float("-inf"))
        masked[:, kept] = logits[:, kept]
        logits = masked
    return float(accuracy(logits, labels))


@torch.no_grad()
def predict(logits_fn: Callable[[torch.Tensor], torch.Tensor], dataset: Dataset, *, batch_size: int = 256,
            workers: int = 4, device: torch.device | None = None, desc: str = "evaluating") -> tuple[torch.Tensor, torch.Tensor]:
    """``(logits, labels)`` over a whole ``(image, label)`` data set, in its order, on the CPU."""
    device = device or default_device()
    outputs, targets = [], []
    for images, labels in progress(loader(dataset, batch_size, workers, shuffle=False), desc=desc, leave=False):
        with autocast(device):
            outputs.append(logits_fn(images.to(device, non_blocking=True)).float().cpu())
        targets.append(labels)
    return torch.cat(outputs), torch.cat(targets)


def load_model(method: str, name: str, checkpoint: str | Path, device: torch.device, n_classes: int = 1000):
    """A trained checkpoint in eval mode: ``clip`` as written by open_clip_train, ``supervised``
    as written by :func:`clipbook.training.image_files.train_classifier`."""
    if method == "clip":
        model = create_clip(name)
        open_clip.load_checkpoint(model, str(checkpoint))
    else:
        model = create_supervised(name, n_classes=n_classes)
        model.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"])
    return model.to(device).eval()
