"""Zero-shot heads: a classifier built from the text tower, one row per class.

Every head is the same recipe at a different scale: encode each class's prompts, average the
normalized text features of a class's prompt ensemble, normalize, and score images by cosine
similarity. :func:`linear_head` serves the batched linear models (Chapters 1 and 2),
:func:`tower_logits` the stacked open_clip towers trained on the image worlds (Chapter 4 on),
:func:`open_clip_logits` a full open_clip model over the 1000 ImageNet classes.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import open_clip
import torch
import torch.nn.functional as F

from clipbook.models import linear
from clipbook.training.stacked import StackedModels


def ensemble_head(text_features: torch.Tensor, n_classes: int) -> torch.Tensor:
    """``(..., K * P, d)`` normalized text features of ``K`` equal prompt ensembles in class order
    -> ``(..., K, d)`` class embeddings: the normalized mean of each ensemble (CLIP's recipe)."""
    return F.normalize(text_features.unflatten(-2, (n_classes, -1)).mean(-2), dim=-1)


def linear_head(params: linear.Params, prompts: torch.Tensor) -> torch.Tensor:
    """The linear map an image goes through before the arg-max of zero-shot classification, for
    linear CLIP models with one prompt per class (``prompts``: ``(M, K, text_dim)``).

    Normalizing the image embedding does not change the arg-max, so zero-shot prediction is the
    linear classifier ``normalize(W_T p_k)^T W_I``: ``(M, n_classes, image_dim)``.
    """
    return torch.bmm(linear.encode(params["text"], prompts), params["image"])


def tower_logits(stack: StackedModels, prompt_sets: Mapping[str, torch.Tensor], n_classes: int):
    """Zero-shot class scores of stacked open_clip models, in eval mode, one head per prompt set:
    ``logits(params, pixels) -> {head: (M, n, K)}``; each set holds the tokens (padded to one
    length) of ``K`` equal-size ensembles in class order. One forward pass encodes the images
    and every set's prompts."""
    sizes = [len(p) for p in prompt_sets.values()]
    prompts = torch.cat(list(prompt_sets.values()))

    def logits(params, x):
        image, text, _ = stack.evaluate(params, x, prompts)
        heads = [ensemble_head(t, n_classes) for t in text.split(sizes, dim=1)]
        return {name: image @ head.transpose(1, 2) for name, head in zip(prompt_sets, heads)}

    return logits


def open_clip_logits(model: open_clip.CLIP, tokenizer, class_names: Sequence[str], templates: Sequence,
                     device: torch.device) -> Callable[[torch.Tensor], torch.Tensor]:
    """Zero-shot logits of one open_clip model from its own text tower (open_clip's
    ``build_zero_shot_classifier``: templates averaged per class)."""
    with torch.no_grad():
        head = open_clip.build_zero_shot_classifier(model, tokenizer, class_names, templates,
                                                    num_classes_per_batch=50, device=device)

    def logits(images: torch.Tensor) -> torch.Tensor:
        return model.encode_image(images, normalize=True) @ head

    return logits
