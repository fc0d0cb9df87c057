"""Training open_clip towers through the book's one loop, :func:`clipbook.training.loop.train`.

The loop trains a dict of tensors whose leading axis indexes models. :class:`StackedModels`
turns ``M`` modules of one architecture into such a dict (``torch.func.stack_module_state``)
and runs them with ``torch.func.functional_call``: directly for one model, under ``vmap`` for
several, so a sweep of seeds or settings is one tensor program (its stacked buffers let
BatchNorm keep per-model running statistics under ``vmap``). Data are cached tensors indexed by
the loop's batch indices: a step does no decoding, augmentation or tokenization.

Stack models on a GPU. On a CPU single models are faster, side by side on the cores
(:mod:`clipbook.parallel`): PyTorch has no ``vmap`` rule for CPU attention yet (four tiny-vit
or tiny-rn models stacked: 1.2 to 1.5 times the time of training them one after another).
"""

from __future__ import annotations

import copy
import warnings
from itertools import chain
from typing import Sequence

import open_clip
import torch
from open_clip.modified_resnet import ModifiedResNet
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from clipbook.data.augment import Augment, augment
from clipbook.device import default_device
from clipbook.models.towers import MAX_LOGIT_SCALE
from clipbook.training.loop import LossFn, MetricsFn, Params, TrainConfig, TrainResult, train
from clipbook.training.losses import clip_loss, cross_entropy, weighted_negatives_loss


class StackedModels:
    """``M`` modules of one architecture as stacked parameter and buffer tensors on one device."""

    def __init__(self, models: Sequence[nn.Module], device: torch.device | None = None,
                 layout: torch.memory_format | None = None):
        if not models:
            raise ValueError("StackedModels needs at least one model")
        self.models = list(models)
        self.device = device or default_device()
        params, buffers = stack_module_state(self.models)
        self.params: Params = {k: v.detach().to(self.device) for k, v in params.items()}
        self.buffers: Params = {k: v.to(self.device) for k, v in buffers.items()}
        self.layout = layout or image_layout(self.visual)
        self._skeleton = copy.deepcopy(self.models[0]).to("meta").train()
        # open_clip's causal text tower pooled at the end-of-text token runs at any length (:meth:`_at_text_length`)
        self._text_at_any_length = (isinstance(self._skeleton, open_clip.CLIP) and self._skeleton.attn_mask is not None
                                    and self._skeleton.text_pool_type == "argmax")

    def __len__(self) -> int:
        return len(self.models)

    @property
    def visual(self) -> nn.Module:
        """The image tower of the first model (architecture and preprocessing constants only)."""
        return self.models[0].visual

    def __call__(self, params: Params, *inputs: torch.Tensor):
        """The models' forward on shared inputs; every output gets a leading model axis."""
        params, buffers = self._at_text_length(params, inputs)
        if len(self) == 1:  # plain call, on views whose backward is a reshape (indexing's would copy)
            one = {k: v.squeeze(0) for k, v in params.items()}, {k: v.squeeze(0) for k, v in buffers.items()}
            out = functional_call(self._skeleton, one, inputs)
            return tuple(o.unsqueeze(0) for o in out) if isinstance(out, tuple) else out.unsqueeze(0)
        with warnings.catch_warnings():  # CPU attention has no batching rule yet; vmap loops over models there
            warnings.filterwarnings("ignore", message="There is a performance drop because we have not yet implemented")
            return vmap(lambda p, b: functional_call(self._skeleton, (p, b), inputs))(params, buffers)

    def pixels(self, images: torch.Tensor) -> torch.Tensor:
        """:func:`pixels` of ``images`` for these models, in their memory layout (:attr:`layout`)."""
        return pixels(images, self.visual, self.layout)

    def text_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """``tokens`` without the padding columns (id 0) after every row's end, where the text
        tower can run at their length (:meth:`_at_text_length`); else unchanged."""
        if not self._text_at_any_length:
            return tokens
        used = (tokens != 0).any(dim=0).nonzero()
        return tokens[:, :int(used.max()) + 1] if len(used) else tokens

    def _at_text_length(self, params: Params, inputs: tuple[torch.Tensor, ...]) -> tuple[Params, Params]:
        """Parameters and buffers for running open_clip's text tower at the length of the tokens given.

        ``open_clip.CLIP.encode_text`` adds its whole positional embedding and causal mask, so it
        only takes tokens padded to the full context (77 for BPE, where a procedural caption
        needs about 10). Slicing both to the tokens' length is exact for a causal tower pooled at
        the end-of-text token: no position after it can reach the pooled feature. It cuts a CPU
        step of ``tiny-vit-bpe`` about threefold. Other models, and full-length tokens, pass unchanged.
        """
        if (len(inputs) < 2 or not self._text_at_any_length
                or inputs[1].shape[-1] == self._skeleton.context_length):
            return params, self.buffers
        length = inputs[1].shape[-1]
        return (params | {"positional_embedding": params["positional_embedding"][:, :length]},
                self.buffers | {"attn_mask": self.buffers["attn_mask"][:, :length, :length]})

    def evaluate(self, params: Params, *inputs: torch.Tensor):
        """The forward in eval mode (BatchNorm uses and keeps its running statistics), without
        gradients: for measuring models in the middle of training."""
        self._skeleton.eval()
        try:
            with torch.no_grad():
                return self(params, *inputs)
        finally:
            self._skeleton.train()

    def load(self, params: Params) -> list[nn.Module]:
        """Copy trained ``params`` and the current buffers back into the modules; returns them."""
        stacked = params | self.buffers
        with torch.no_grad():
            for m, model in enumerate(self.models):
                for name, tensor in chain(model.named_parameters(), model.named_buffers()):
                    tensor.copy_(stacked[name][m])
        return self.models


def image_layout(visual: nn.Module) -> torch.memory_format:
    """The memory layout a tower's images train fastest in: channels-last for a convolutional
    tower (open_clip's ModifiedResNet: ``tiny-rn``'s step on one CPU thread is 1.2 to 1.3 times
    faster, as MKL-DNN's convolutions and BatchNorm run in it without reordering), the plain layout
    for a ViT (whose one convolution, the patch embedding, gains nothing). ``python -m clipbook
    bench --only levers`` measures it. The same sums in another order: not bit-identical."""
    return torch.channels_last if isinstance(visual, ModifiedResNet) else torch.contiguous_format


def pixels(images: torch.Tensor, visual: nn.Module, layout: torch.memory_format | None = None) -> torch.Tensor:
    """Images as the tower expects them: uint8 in [0, 255] or float in [0, 1], normalized with
    the tower's mean and std (``visual.preprocess_cfg``, what open_clip's transforms use), in
    ``layout`` (default: :func:`image_layout`)."""
    x = images.float() / 255 if images.dtype == torch.uint8 else images.float()
    mean = torch.tensor(visual.preprocess_cfg["mean"], device=x.device).view(-1, 1, 1)
    std = torch.tensor(visual.preprocess_cfg["std"], device=x.device).view(-1, 1, 1)
    return ((x - mean) / std).contiguous(memory_format=layout or image_layout(visual))


def clip_loss_fn(stack: StackedModels, images: torch.Tensor, tokens: torch.Tensor,
                 negative_weight: float = 1.0) -> LossFn:
    """Per-model CLIP loss (open_clip's ``ClipLoss``) on the pairs ``(images[i], tokens[i])`` of a
    batch; the text tower runs at the longest caption's length (:meth:`StackedModels.text_tokens`).
    A ``negative_weight`` below 1 weights the negative pairs in the normalizer (Chapter 3's
    bounded variant, :func:`~clipbook.training.losses.weighted_negatives_loss`)."""
    images, tokens = images.to(stack.device), stack.text_tokens(tokens).to(stack.device)

    def loss_fn(params: Params, idx: torch.Tensor) -> torch.Tensor:
        image_features, text_features, scale = stack(params, stack.pixels(images[idx]), tokens[idx])
        scale = scale.clamp(max=MAX_LOGIT_SCALE)
        if negative_weight == 1:
            return clip_loss(image_features, text_features, scale)
        return weighted_negatives_loss(image_features, text_features, scale, 1.0, inside=negative_weight)

    return loss_fn


def simclr_loss_fn(stack: StackedModels, images: torch.Tensor, seed: int, temperature: float = 0.1,
                   views: Augment = Augment()) -> LossFn:
    """Per-model SimCLR loss of :class:`~clipbook.models.towers.SimCLREncoder` models: two random
    views of every image in a batch (:func:`~clipbook.data.augment.augment`, drawn from a
    generator seeded with ``seed``), encoded in one pass (BatchNorm sees both, as in SimCLR's
    global BatchNorm), and open_clip's ``ClipLoss`` between them at SimCLR's fixed temperature.
    That is SimCLR's NT-Xent with the other view's images as negatives; the same view's other
    images, which NT-Xent adds, are left out."""
    images = images.to(stack.device)
    generator = torch.Generator(stack.device).manual_seed(seed)
    scale = torch.full((len(stack),), 1 / temperature, device=stack.device)

    def loss_fn(params: Params, idx: torch.Tensor) -> torch.Tensor:
        both = torch.cat([augment(images[idx], generator, views) for _ in range(2)])
        z = stack(params, stack.pixels(both))
        return clip_loss(z[:, :len(idx)], z[:, len(idx):], scale)

    return loss_fn


def supervised_loss_fn(stack: StackedModels, images: torch.Tensor, labels: torch.Tensor) -> LossFn:
    """Per-model cross-entropy of :class:`~clipbook.models.towers.SupervisedClassifier` models."""
    images, labels = images.to(stack.device), labels.to(stack.device)

    def loss_fn(params: Params, idx: torch.Tensor) -> torch.Tensor:
        logits = stack(params, stack.pixels(images[idx]))
        return cross_entropy(logits, labels[idx].expand(len(stack), -1))

    return loss_fn


def fit(stack: StackedModels, loss_fn: LossFn, n_samples: int, config: TrainConfig, *,
        metrics: MetricsFn | None = None, desc: str = "training") -> TrainResult:
    """Train the stacked models with the book's loop, then load the result into the modules."""
    result = train(stack.params, loss_fn, n_samples, config, metrics=metrics, desc=desc, device=stack.device,
                   buffers=stack.buffers)
    stack.load(result.params)
    return result


def train_clip(models: Sequence[nn.Module], images: torch.Tensor, tokens: torch.Tensor, config: TrainConfig, *,
               device: torch.device | None = None, desc: str = "CLIP") -> TrainResult:
    """Train open_clip models, in place, on image-caption pairs held as tensors
    (images ``(N, 3, H, W)``, tokens ``(N, L)``); all models see the same batches."""
    stack = StackedModels(models, device)
    return fit(stack, clip_loss_fn(stack, images, tokens), len(images), config, desc=desc)


def train_supervised(models: Sequence[nn.Module], images: torch.Tensor, labels: torch.Tensor, config: TrainConfig, *,
                     device: torch.device | None = None, desc: str = "supervised") -> TrainResult:
    """Train supervised classifiers, in place, on labelled images held as tensors."""
    stack = StackedModels(models, device)
    return fit(stack, supervised_loss_fn(stack, images, labels), len(images), config, desc=desc)



def train_simclr(models: Sequence[nn.Module], images: torch.Tensor, config: TrainConfig, *,
                 device: torch.device | None = None, desc: str = "SimCLR") -> TrainResult:
    """Pre-train SimCLR encoders, in place, on unlabelled images held as tensors; the views are
    drawn from ``config.seed``."""
    stack = StackedModels(models, device)
    return fit(stack, simclr_loss_fn(stack, images, config.seed), len(images), config, desc=desc)
