"""Tiny open_clip towers trained on an image world and measured at every checkpoint.

The recipe every image chapter shares: train a CLIP (image-caption pairs) or a supervised
classifier (labelled images) through the book's one loop, and measure each test set's accuracy
at every logged step, so that a chapter can follow a model through training (effective
robustness along training, compositional accuracy as it emerges, bias as it forms). One model
or several stacked ones: :class:`~clipbook.training.stacked.StackedModels` runs both.
"""

from __future__ import annotations

from typing import Callable, Mapping

import pandas as pd
import torch
from torch import nn

from clipbook.data.render import ShapesData
from clipbook.evaluate.classify import accuracy
from clipbook.evaluate.zero_shot import tower_logits
from clipbook.training.loop import LossFn, MetricsFn, Params, TrainConfig
from clipbook.training.stacked import StackedModels, clip_loss_fn, fit, supervised_loss_fn

HeadsFn = Callable[[Params, torch.Tensor], dict[str, torch.Tensor]]
"""``heads(params, pixels) -> {head: (M, n, K)}``: the class scores of stacked models, per head."""


def checkpoint_metrics(stack: StackedModels, tests: Mapping[str, ShapesData], heads: HeadsFn) -> MetricsFn:
    """Accuracy of every head on every test set of models in the middle of training, ``(M,)``
    per (head, test set), keyed ``"<head>/<test set>"``."""
    inputs = {name: (stack.pixels(d.images.to(stack.device)), d.labels) for name, d in tests.items()}

    def metrics(params: Params) -> dict[str, torch.Tensor]:
        return {f"{head}/{name}": accuracy(logits, labels)
                for name, (x, labels) in inputs.items() for head, logits in heads(params, x).items()}

    return metrics


def fit_measured(stack: StackedModels, loss_fn: LossFn, n_samples: int, config: TrainConfig,
                 tests: Mapping[str, ShapesData], heads: HeadsFn, desc: str) -> pd.DataFrame:
    """Train, measuring every head on every test set at every logged step: one row per
    (checkpoint, model, head) with ``step``, ``model``, ``head`` and one accuracy column per
    test set (step 0, the untrained model, left out)."""
    result = fit(stack, loss_fn, n_samples, config, metrics=checkpoint_metrics(stack, tests, heads), desc=desc)
    history = result.history[(result.history.metric != "loss") & (result.history.step > 0)]
    history = history.join(history.metric.str.split("/", n=1, expand=True).set_axis(["head", "test"], axis=1))
    table = history.pivot_table(index=["step", "model", "head"], columns="test", values="value").reset_index()
    return table.rename_axis(columns=None)


def train_clip_measured(models: list[nn.Module], images: torch.Tensor, tokens: torch.Tensor, prompts: torch.Tensor,
                        n_classes: int, tests: Mapping[str, ShapesData], config: TrainConfig,
                        device: torch.device | None = None, desc: str = "CLIP", *,
                        other_prompts: Mapping[str, torch.Tensor] | None = None) -> pd.DataFrame:
    """CLIP models trained on image-caption pairs (``tokens[i]`` describes ``images[i]``), scored
    zero-shot with the prompt ensembles ``prompts`` (tokens of ``n_classes`` equal ensembles;
    head ``zero-shot``) and with each of ``other_prompts`` (head named by its key)."""
    stack = StackedModels(models, device)
    prompt_sets = {head: p.to(stack.device) for head, p in {"zero-shot": prompts, **(other_prompts or {})}.items()}
    return fit_measured(stack, clip_loss_fn(stack, images, tokens), len(images), config, tests,
                        tower_logits(stack, prompt_sets, n_classes), desc)


def train_classifier_measured(models: list[nn.Module], images: torch.Tensor, labels: torch.Tensor,
                              tests: Mapping[str, ShapesData], config: TrainConfig,
                              device: torch.device | None = None, desc: str = "supervised") -> pd.DataFrame:
    """Supervised classifiers (:class:`~clipbook.models.towers.SupervisedClassifier`) trained
    with cross-entropy on labelled images, scored by their own heads."""
    stack = StackedModels(models, device)
    return fit_measured(stack, supervised_loss_fn(stack, images, labels), len(images), config, tests,
                        lambda params, x: {"classifier": stack.evaluate(params, x)}, desc)
