"""Chapter 5 on real data: pretrained open_clip models on ImageNet-AO (Abbasi et al., ECCV 2024).

ImageNet-AO holds generated images of attribute-object compositions that no training caption of
the evaluated models contains. Here it is a folder with one sub-folder per composition, named
``<attribute>_<object>`` (or with a space); each pretrained model (``NAME:TAG``, an open_clip
architecture and one of its pretrained tags, or ``NAME:/path/to/checkpoint``) is read out as the
synthetic models are: zero-shot accuracy among the folder's compositions, object top-1 among the
object names (the figure the authors' notebooks report), and the disentanglement metrics of its
image and text embeddings. Weights are never downloaded offline: a missing tag is a clear error.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Sequence

import pandas as pd
import torch
from sklearn.ensemble import GradientBoostingClassifier
from torchvision.datasets import ImageFolder

from clipbook.data.sources import open_rgb, require
from clipbook.device import default_device
from clipbook.evaluate import compositional
from clipbook.evaluate.classify import accuracy
from clipbook.evaluate.disentanglement import scores
from clipbook.evaluate.imagenet import predict
from clipbook.learners.imagenet_runs import PROMPTS, prompt_templates
from clipbook.models.towers import load_pretrained

AUTHORS_OBJECT_TOP1 = {
    "RN50:openai": 0.449, "RN50:cc12m": 0.284, "RN50:yfcc15m": 0.147,
    "ViT-B-32:openai": 0.540, "ViT-B-32:laion2b_s34b_b79k": 0.611, "ViT-L-14:openai": 0.655,
}
"""Object-name top-1 on the authors' v1 images, from their notebooks, to set beside a reader's numbers."""


def parse_model(text: str) -> tuple[str, str]:
    """``"ViT-B-32:openai"`` -> ``("ViT-B-32", "openai")``."""
    name, sep, tag = text.partition(":")
    if not sep or not name or not tag:
        raise ValueError(f"a pretrained model is NAME:TAG (e.g. RN50:openai or RN50:/path/to/weights.pt), got {text!r}")
    return name, tag


def parse_composition(folder: str) -> tuple[str, str]:
    """``"red_apple"`` or ``"red apple"`` -> ``("red", "apple")`` (the attribute is the first word)."""
    attribute, sep, obj = folder.replace("_", " ").partition(" ")
    if not sep or not obj.strip():
        raise ValueError(f"composition folder {folder!r} is not named <attribute>_<object>")
    return attribute, obj.strip()


def composition_folders(root: str | Path, transform=None) -> tuple[ImageFolder, list[tuple[str, str]]]:
    """The images (labels: composition index) and each composition's (attribute, object) words."""
    root = require(root, "imagenet_ao", "imagenet_ao")
    data = ImageFolder(str(root), transform=transform, loader=open_rgb)
    return data, [parse_composition(c) for c in data.classes]


def check_inputs(root: str | Path, models: Sequence[str], templates: str = "openai") -> None:
    """Before any compute: the folder exists with well-named compositions, the tags parse and the
    prompts are known."""
    prompt_templates(templates)
    _, pairs = composition_folders(root)
    if len({a for a, _ in pairs}) < 2 or len({o for _, o in pairs}) < 2:
        raise ValueError(f"{root}: ImageNet-AO needs at least two attributes and two objects")
    for model in models:
        parse_model(model)


def evaluate_pretrained(root: str | Path, models: Sequence[str], *, templates: str = "openai", dci_trees: int = 100,
                        workers: int = 4, device: torch.device | None = None) -> pd.DataFrame:
    """One row per pretrained model: composition, attribute and object accuracy among the
    folder's compositions, object top-1 among the object names (with the authors' figure where
    they report one), and the disentanglement metrics of its image and text embeddings."""
    device = device or default_device()
    rows = []
    for spec in models:
        name, tag = parse_model(spec)
        model, preprocess, tokenizer = load_pretrained(name, tag, device=device)
        data, pairs = composition_folders(root, preprocess)
        objects = sorted({o for _, o in pairs})
        features, labels = predict(lambda x: model.encode_image(x, normalize=True), data, workers=workers,
                                   device=device, desc=spec)
        truth = [pairs[i] for i in labels.tolist()]
        head = compositional.composition_head(model, tokenizer, pairs, PROMPTS[templates]).cpu()
        acc = compositional.composition_accuracy(features, head, pairs, truth)
        object_head = compositional.class_head(model, tokenizer, objects, PROMPTS[templates]).cpu()
        object_top1 = accuracy(features @ object_head.T, torch.tensor([objects.index(o) for _, o in truth]))
        image_factors = compositional.factor_indices(truth)
        text, text_factors = compositional.text_codes(model, tokenizer, pairs, PROMPTS[templates])
        classifier = partial(GradientBoostingClassifier, n_estimators=dci_trees, random_state=0)
        rows.append({"model": spec, **acc._asdict(), "object_top1": float(object_top1),
                     "authors_object_top1": AUTHORS_OBJECT_TOP1.get(spec, float("nan")),
                     **{f"image_{k}": v for k, v in scores(features.numpy(), image_factors,
                                                            dci_classifier=classifier).items()},
                     **{f"text_{k}": v for k, v in scores(text.cpu().numpy(), text_factors,
                                                           dci_classifier=classifier).items()}})
    return pd.DataFrame(rows)
