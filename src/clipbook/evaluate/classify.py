"""Classification read-outs shared by every chapter: accuracy, frozen image features, and the
linear probe (a classifier fitted without language on frozen features)."""

from __future__ import annotations

import torch
from sklearn.linear_model import LogisticRegression

from clipbook.training.stacked import pixels


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Top-1 accuracy over the last sample axis: logits ``(..., n, K)``, labels ``(..., n)`` -> ``(...)``;
    ``(M, n, K)`` stacked models give one accuracy per model."""
    return (logits.argmax(dim=-1) == labels.to(logits.device)).float().mean(dim=-1)


@torch.no_grad()
def image_features(model, images: torch.Tensor, batch_size: int = 2048) -> torch.Tensor:
    """L2-normalized image features of a trained open_clip model or supervised tower, in eval mode."""
    model.eval()
    device = next(model.parameters()).device
    chunks = [model.encode_image(pixels(images[i:i + batch_size].to(device), model.visual), normalize=True)
              for i in range(0, len(images), batch_size)]
    return torch.cat(chunks).float()


def linear_probe(train_features: torch.Tensor, train_labels: torch.Tensor) -> LogisticRegression:
    """Multinomial logistic regression on frozen features: a classifier without language (its
    lbfgs solver is deterministic: no seed)."""
    return LogisticRegression(max_iter=2000).fit(train_features.cpu().numpy(), train_labels.cpu().numpy())


def probe_accuracy(probe: LogisticRegression, features: torch.Tensor, labels: torch.Tensor) -> float:
    """Accuracy of a fitted linear probe on frozen features."""
    return float((probe.predict(features.cpu().numpy()) == labels.cpu().numpy()).mean())
