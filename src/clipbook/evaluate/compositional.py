"""Compositional read-outs of a CLIP-like model: attribute-object pairs it never saw in training.

Every function takes a model with ``encode_image`` / ``encode_text`` (an ``open_clip.CLIP`` or a
:class:`~clipbook.models.text_towers.FrozenTextCLIP`) and a tokenizer, and describes a
composition by its words, e.g. ``("red", "circle")``: Abbasi et al.'s zero-shot test on unseen
compositions (classify among the unseen compositions, with CLIP's prompt ensembles), the text
codes the disentanglement metrics read, and embedding arithmetic.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import numpy as np
import torch

from clipbook.data.captions import TEMPLATES, zero_shot_prompts
from clipbook.evaluate.zero_shot import ensemble_head

Pair = tuple[str, str]  # (attribute word, object word)


Templates = Sequence[str | Callable[[str], str]]
"""The book's templates take a noun phrase with its article ("a photo of {}."); open_clip's are
functions of the bare class name (``lambda c: f"a photo of a {c}."``)."""


def phrases(pairs: Sequence[Pair]) -> list[str]:
    """'red circle' for ("red", "circle")."""
    return [f"{a} {o}" for a, o in pairs]


def prompt_ensembles(names: Sequence[str], templates: Templates = TEMPLATES) -> list[str]:
    """Every template around every name, name-major (``len(names)`` ensembles of ``len(templates)``)."""
    if all(callable(t) for t in templates):
        return [t(name) for name in names for t in templates]
    return [p for ensemble in zero_shot_prompts(names, templates) for p in ensemble]


@torch.no_grad()
def text_features(model, tokenizer, texts: Sequence[str], batch_size: int = 1024) -> torch.Tensor:
    """L2-normalized text features, in eval mode, on the model's device."""
    model.eval()
    device = next(model.parameters()).device
    return torch.cat([model.encode_text(tokenizer(texts[i:i + batch_size]).to(device), normalize=True)
                      for i in range(0, len(texts), batch_size)]).float()


def class_head(model, tokenizer, names: Sequence[str], templates: Templates = TEMPLATES) -> torch.Tensor:
    """``(len(names), d)`` zero-shot class embeddings: each name's prompt ensemble averaged."""
    return ensemble_head(text_features(model, tokenizer, prompt_ensembles(names, templates)), len(names))


def composition_head(model, tokenizer, pairs: Sequence[Pair], templates: Templates = TEMPLATES) -> torch.Tensor:
    """:func:`class_head` of the compositions' phrases ("red circle")."""
    return class_head(model, tokenizer, phrases(pairs), templates)


class CompositionAccuracy(NamedTuple):
    composition: float  # the predicted composition is the true one
    attribute: float  # the predicted composition has the true attribute
    object: float  # the predicted composition has the true object


def composition_accuracy(image_features: torch.Tensor, head: torch.Tensor, pairs: Sequence[Pair],
                         truth: Sequence[Pair]) -> CompositionAccuracy:
    """Zero-shot accuracy among ``pairs`` (the candidate compositions, rows of ``head``) of
    images whose compositions are ``truth``; attribute and object accuracy read the parts of the
    predicted composition (the usual compositional zero-shot read-out)."""
    predicted = np.array(pairs, dtype=object)[(image_features @ head.T).argmax(dim=1).cpu().numpy()]
    truth = np.array(truth, dtype=object)
    hit = predicted == truth
    return CompositionAccuracy(float(hit.all(axis=1).mean()), float(hit[:, 0].mean()), float(hit[:, 1].mean()))


def text_codes(model, tokenizer, pairs: Sequence[Pair],
               templates: Templates = TEMPLATES) -> tuple[torch.Tensor, np.ndarray]:
    """Text embeddings of every (template, composition) prompt, and each row's (attribute,
    object) index in ``pairs``' own orders: the text side's codes and factors."""
    prompts = prompt_ensembles(phrases(pairs), templates)
    return text_features(model, tokenizer, prompts), np.repeat(factor_indices(pairs), len(templates), axis=0)


def factor_indices(pairs: Sequence[Pair]) -> np.ndarray:
    """``[n, 2]`` index of each pair's attribute and object among the sorted attributes and
    objects of ``pairs``: the factors the disentanglement metrics read."""
    attributes, objects = sorted({a for a, _ in pairs}), sorted({o for _, o in pairs})
    return np.array([[attributes.index(a), objects.index(o)] for a, o in pairs]).reshape(-1, 2)


def arithmetic_retrieval(model, tokenizer, source: torch.Tensor, source_pairs: Sequence[Pair],
                         target_pairs: Sequence[Pair]) -> float:
    """Embedding arithmetic: for each image of a composition (a1, o) and each target (a2, o),
    ``image - text("a1 object") + text("a2 object")`` should be nearest, among the targets'
    zero-shot embeddings, to (a2, o). Returns the top-1 rate over all such (image, target) queries."""
    head = composition_head(model, tokenizer, target_pairs)
    attributes = sorted({a for a, _ in (*source_pairs, *target_pairs)})
    words = text_features(model, tokenizer, [f"a photo of a {a} object." for a in attributes])
    hits = []
    for t, (a2, o) in enumerate(target_pairs):
        rows = [i for i, (a1, o1) in enumerate(source_pairs) if o1 == o and a1 != a2]
        if not rows:
            continue
        a1 = torch.tensor([attributes.index(source_pairs[i][0]) for i in rows])
        query = source[rows] - words[a1] + words[attributes.index(a2)]  # its length does not change the nearest
        hits.append((query @ head.T).argmax(dim=1) == t)
    if not hits:
        raise ValueError("no source image shares an object with a target composition")
    return float(torch.cat(hits).float().mean())
