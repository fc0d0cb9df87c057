"""open_clip towers for the image world: tiny CLIPs, the supervised baseline, pretrained models.

Importing this module registers the book's tiny configurations (``models/configs/*.json``)
with open_clip, so ``open_clip.create_model("tiny-vit")`` works like any built-in name:

- ``tiny-vit``: ViT on 32 px images (patch 8, width 64, 2 layers) and a 2-layer text tower
  with a 512-word vocabulary and a 48-token context, for the procedural captions
  (:class:`clipbook.data.captions.WordTokenizer`'s default context: the richest web-like
  captions take 33 tokens; class-name captions fit in 16, which halves a CPU step:
  ``create_clip("tiny-vit", text_cfg={"context_length": 16})``). The text tower pools at the
  highest token id (open_clip's ``argmax`` pooling), so a word tokenizer must give the
  end-of-text token the largest id, as open_clip's BPE tokenizer and ``WordTokenizer`` do.
- ``tiny-rn``: open_clip's ModifiedResNet (BatchNorm, attention pooling) at width 8, same text tower.
- ``tiny-vit-bpe``, ``tiny-rn-bpe``: the same image towers with open_clip's BPE text embedding
  (49,408 tokens, context 77) for real captions and for ``open_clip_train``. The large embedding
  makes a CPU step about twice as slow, so the word-level variants are the default.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, NamedTuple

import open_clip
import torch
import torch.nn.functional as F
from torch import nn

CONFIG_DIR = Path(__file__).parent / "configs"
TINY_MODELS = tuple(sorted(p.stem for p in CONFIG_DIR.glob("*.json")))
MAX_LOGIT_SCALE = 100.0
"""CLIP clamps its inverse temperature at 100 (open_clip_train clamps ``logit_scale`` at ln 100)."""

open_clip.add_model_config(CONFIG_DIR)


def model_config(name: str) -> dict[str, Any]:
    """The open_clip configuration of a registered model (a copy; edit freely)."""
    config = open_clip.get_model_config(name)
    if config is None:
        raise ValueError(f"unknown model {name!r}; the book's tiny models are {TINY_MODELS}")
    return copy.deepcopy(config)


def _merge(base: dict, overrides: dict) -> dict:
    """Nested dict update: ``{"vision_cfg": {"layers": 4}}`` changes one field, keeps the others."""
    merged = dict(base)
    for key, value in overrides.items():
        merged[key] = _merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return merged


_GLOBAL_RNG = threading.RLock()


@contextmanager
def seeded(seed: int):
    """Seed the global RNG that module initializers use, without disturbing the caller's stream;
    one thread at a time (models trained side by side, :mod:`clipbook.parallel`, share that RNG)."""
    with _GLOBAL_RNG, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


@contextmanager
def _quiet_random_init():
    """open_clip warns that a model without pretrained weights starts random: here that is the point."""
    def keep(record: logging.LogRecord) -> bool:
        return "initialized randomly" not in record.getMessage()

    root = logging.getLogger()
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)


def create_clip(name: str = "tiny-vit", *, seed: int = 0, **overrides) -> open_clip.CLIP:
    """A randomly initialized open_clip model; ``overrides`` update its configuration (nested
    dicts merge: ``create_clip("tiny-vit", vision_cfg={"layers": 4})``). Same seed, same weights."""
    config = _merge(model_config(name), overrides)
    with seeded(seed), _quiet_random_init():
        return open_clip.create_model(name, pretrained=None, **{k: config[k] for k in overrides})


class SupervisedClassifier(nn.Module):
    """A CLIP image tower with a prototype head, the supervised baseline of the CLIP comparisons.

    Logits are the cosine similarities of the L2-normalized image feature to one L2-normalized
    learned prototype per class, times a learned inverse temperature: the same form as CLIP's
    zero-shot logits, so the two differ only in the training signal (fixed classes vs. captions).
    """

    def __init__(self, visual: nn.Module, n_classes: int, init_logit_scale: float = math.log(1 / 0.07)):
        super().__init__()
        self.visual = visual
        embed_dim = visual.output_dim
        self.prototypes = nn.Parameter(torch.randn(n_classes, embed_dim) * embed_dim ** -0.5)
        self.logit_scale = nn.Parameter(torch.tensor(init_logit_scale))

    def encode_image(self, images: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        """Image features, as ``CLIP.encode_image`` (evaluation code takes either model)."""
        features = self.visual(images)
        return F.normalize(features, dim=-1) if normalize else features

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        scale = self.logit_scale.exp().clamp(max=MAX_LOGIT_SCALE)
        return scale * self.encode_image(images, normalize=True) @ F.normalize(self.prototypes, dim=-1).T


def create_supervised(name: str = "tiny-vit", n_classes: int = 10, *, seed: int = 0, **overrides) -> SupervisedClassifier:
    """The classifier on the image tower of ``create_clip(name, seed=seed, **overrides)``:
    same architecture and, for the same seed, the same initial tower weights."""
    visual = create_clip(name, seed=seed, **overrides).visual
    with seeded(seed):
        return SupervisedClassifier(visual, n_classes)


class SimCLREncoder(nn.Module):
    """A CLIP image tower with SimCLR's projection head (Chen et al. 2020), for image-only
    contrastive pre-training: ``forward`` gives the L2-normalized projections that the
    contrastive loss compares. Fine-tuning drops the head and keeps the tower
    (:func:`classifier_from`), as SimCLR does."""

    def __init__(self, visual: nn.Module):
        super().__init__()
        self.visual = visual
        d = visual.output_dim
        self.head = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, d))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.head(self.visual(images)), dim=-1)


def create_simclr(name: str = "tiny-vit", *, seed: int = 0, **overrides) -> SimCLREncoder:
    """SimCLR's encoder on the image tower of ``create_clip(name, seed=seed, **overrides)``."""
    visual = create_clip(name, seed=seed, **overrides).visual
    with seeded(seed):
        return SimCLREncoder(visual)


def classifier_from(encoder: SimCLREncoder, n_classes: int, *, seed: int = 0) -> SupervisedClassifier:
    """A supervised classifier on a copy of a pre-trained encoder's tower (new class prototypes)."""
    with seeded(seed):
        return SupervisedClassifier(copy.deepcopy(encoder.visual), n_classes)


class Pretrained(NamedTuple):
    model: nn.Module  # in eval mode
    preprocess: Callable  # PIL image -> normalized tensor, as the weights expect
    tokenizer: Callable  # list of captions -> token tensor


class WeightsUnavailable(RuntimeError):
    """Pretrained weights could not be downloaded or found in the cache."""


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().upper() in {"1", "ON", "YES", "TRUE"}


@contextmanager
def _hub_offline(offline: bool):
    """huggingface_hub reads ``HF_HUB_OFFLINE`` once, when imported; honour the value set now."""
    from huggingface_hub import constants

    saved = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = saved or offline
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = saved


def load_pretrained(name: str, tag: str, *, cache_dir: str | None = None, device: str | torch.device = "cpu") -> Pretrained:
    """An open_clip model with pretrained weights: ``tag`` is one of open_clip's tags for ``name``
    (``open_clip.list_pretrained_tags_by_model``), downloaded once into the Hugging Face cache,
    or the path of a local checkpoint file.

    Offline (``HF_HUB_OFFLINE=1``) only the cache is read; any failure to get the weights is a
    :class:`WeightsUnavailable` error that says how to provide them, never a hang.
    """
    local = Path(tag).expanduser()
    if local.is_file():
        model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=str(local), device=device)
        return Pretrained(model.eval(), preprocess, open_clip.get_tokenizer(name))
    model_config(name)  # unknown name: a clear error before any download
    if not open_clip.get_pretrained_cfg(name, tag):
        raise ValueError(f"{tag!r} is neither a checkpoint file nor a pretrained tag of {name}; its tags are "
                         f"{open_clip.list_pretrained_tags_by_model(name)}")
    offline = _env_flag("HF_HUB_OFFLINE")
    try:
        with _hub_offline(offline):
            model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=tag, cache_dir=cache_dir,
                                                                         device=device)
            tokenizer = open_clip.get_tokenizer(name, cache_dir=cache_dir)
    except Exception as err:
        where = "offline (HF_HUB_OFFLINE is set)" if offline else "offline or could not be downloaded"
        raise WeightsUnavailable(
            f"The pretrained weights {name} / {tag} are not available {where}: {err}\n"
            f"Either download them once on a machine with internet access (open_clip.create_model({name!r}, "
            f"pretrained={tag!r}) caches them under ~/.cache/huggingface; copy that folder over), or pass the "
            f"path of a local checkpoint file as the tag: load_pretrained({name!r}, '/path/to/open_clip_model.safetensors')."
        ) from err
    return Pretrained(model.eval(), preprocess, tokenizer)
