"""Chapter 4: is the training distribution the cause of CLIP's effective robustness? (Fang et al. 2022)

The shapes world stands in for ImageNet and the web. The *narrow* distribution is ImageNet's:
photos of the objects on a few plain backgrounds. The *diverse* one is the web's: the same kind
of scenes drawn in several styles on every background. The test sets are ImageNet's shifts:
the narrow distribution's own test set (ID) and one set per drawing style (OOD). Every model is
an open_clip tower trained from scratch, and the five candidate causes are switched one at a
time, with everything else (classes, scenes, steps, architecture, seed) held fixed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Literal, NamedTuple, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression

from clipbook.data.captions import CaptionSpec, WordTokenizer, captions, words_of, zero_shot_prompts
from clipbook.data.shapes import BACKGROUNDS, ShapesData, ShapesSpec, make_shapes
from clipbook.device import default_device
from clipbook.evaluate.robustness import BaselineFit, fit_baseline
from clipbook.evaluate.stats import Interval, mean_ci
from clipbook.image_training import StackedModels, clip_loss_fn, fit, pixels, supervised_loss_fn
from clipbook.models.towers import create_clip, create_supervised
from clipbook.progress import progress
from clipbook.train import TrainConfig

Method = Literal["clip", "supervised", "caption_labels"]
TEST_SEED = 1_000_000  # the test sets are the same for every model and every seed
ID = "ID"


@dataclass(frozen=True)
class DiversityWorld:
    """The narrow and diverse training distributions, the test sets, and the captions.

    Scenes are drawn with the same seed in both distributions, so image ``i`` of the narrow and
    of the diverse training set show the same object: only style and background differ.
    """

    n_train: int = 4000
    n_test: int = 1000
    image_size: int = 32
    narrow_styles: tuple[str, ...] = ("photo",)
    narrow_backgrounds: tuple[str, ...] = ("light", "gray")
    diverse_styles: tuple[str, ...] = ("photo", "sketch", "cartoon", "noisy")
    shift_styles: tuple[str, ...] = ("sketch", "edge", "cartoon", "noisy")
    positions: tuple[str, ...] = ("center",)
    sizes: tuple[str, ...] = ("medium", "large")
    textures: tuple[str, ...] = ("solid", "stripes")
    caption_attributes: tuple[str, ...] = ("colour", "size", "texture", "background", "style")
    p_mention: float = 0.5
    p_class: float = 0.8
    context_length: int = 24

    def spec(self, styles: Sequence[str], backgrounds: Sequence[str], seed: int, n: int) -> ShapesSpec:
        return ShapesSpec(seed=seed, n=n, image_size=self.image_size, styles=tuple(styles),
                          backgrounds=tuple(backgrounds), positions=self.positions, sizes=self.sizes, textures=self.textures)

    def narrow(self, seed: int, n: int) -> ShapesSpec:
        """The narrow (ImageNet-like) distribution: its training and ID test images."""
        return self.spec(self.narrow_styles, self.narrow_backgrounds, seed, n)

    def diverse(self, seed: int, n: int) -> ShapesSpec:
        """The diverse (web-like) distribution: its styles on every background."""
        return self.spec(self.diverse_styles, BACKGROUNDS, seed, n)

    @property
    def class_names(self) -> tuple[str, ...]:
        return ShapesSpec().class_names

    def caption_spec(self, seed: int) -> CaptionSpec:
        """Web-like captions (a title and a description): the class is named in a fraction
        ``p_class`` of them, each listed attribute in a fraction ``p_mention``."""
        return CaptionSpec(kind="web", attributes=self.caption_attributes, p_mention=self.p_mention,
                           p_class=self.p_class, tags=False, n_noise_words=1, seed=seed)


class TrainingSet(NamedTuple):
    images: torch.Tensor
    labels: torch.Tensor  # the true class of every image
    captions: list[str]


def training_set(world: DiversityWorld, diverse_fraction: float, size_fraction: float, seed: int) -> TrainingSet:
    """A mixture of the two distributions over the same scenes: the first ``diverse_fraction``
    of the images come from the diverse distribution, the rest from the narrow one; a smaller
    ``size_fraction`` keeps the first images of the full set (nested subsets)."""
    if not (0 <= diverse_fraction <= 1 and 0 < size_fraction <= 1):
        raise ValueError("diverse_fraction must lie in [0, 1] and size_fraction in (0, 1]")
    n = round(world.n_train * size_fraction)
    narrow = make_shapes(world.narrow(seed, world.n_train))
    diverse = make_shapes(world.diverse(seed, world.n_train))
    cut = round(world.n_train * diverse_fraction)
    images = torch.cat([diverse.images[:cut], narrow.images[cut:]])[:n]
    latents = pd.concat([diverse.latents[:cut], narrow.latents[cut:]])[:n]
    texts = captions(latents, world.caption_spec(seed))
    return TrainingSet(images, torch.tensor(latents["label"].to_numpy()), texts)


def test_sets(world: DiversityWorld) -> dict[str, ShapesData]:
    """The ID test set (the narrow distribution) and one OOD set per shift style (every
    background), all showing the same scenes."""
    sets = {ID: make_shapes(world.narrow(TEST_SEED, world.n_test))}
    for style in world.shift_styles:
        sets[style] = make_shapes(world.spec((style,), BACKGROUNDS, TEST_SEED, world.n_test))
    return sets


def caption_labels(texts: Sequence[str], class_names: Sequence[str]) -> np.ndarray:
    """Labels read off the captions, Fang et al.'s YFCC-Cls recipe: the class whose name the
    caption contains, or -1 when it names none or several (such images are left out)."""
    index = {name: k for k, name in enumerate(class_names)}
    labels = np.full(len(texts), -1)
    for i, text in enumerate(texts):
        found = {index[w] for w in words_of(text) if w in index}
        if len(found) == 1:
            labels[i] = found.pop()
    return labels


# ---------------------------------------------------------------- evaluation

def _accuracy(logits: torch.Tensor, labels: np.ndarray) -> float:
    return float((logits.argmax(-1).cpu().numpy() == labels).mean())


def _labels(data: ShapesData) -> np.ndarray:
    return data.latents["label"].to_numpy()


@torch.no_grad()
def image_features(model, images: torch.Tensor, batch_size: int = 2048) -> torch.Tensor:
    """L2-normalized image features of a trained model (CLIP or supervised), in eval mode."""
    model.eval()
    device = next(model.parameters()).device
    chunks = [model.encode_image(pixels(images[i:i + batch_size].to(device), model.visual), normalize=True)
              for i in range(0, len(images), batch_size)]
    return torch.cat(chunks).float()


def linear_probe(train_features: torch.Tensor, train_labels: torch.Tensor, seed: int = 0) -> LogisticRegression:
    """Multinomial logistic regression on frozen features: a classifier without language."""
    return LogisticRegression(max_iter=2000, random_state=seed).fit(train_features.cpu().numpy(),
                                                                    train_labels.cpu().numpy())


# ---------------------------------------------------------------- the runs

class Setting(NamedTuple):
    """One trained model kind: the loss and the training distribution."""

    method: Method
    diverse_fraction: float
    size_fraction: float


def settings(diverse_fractions: Sequence[float], size_fractions: Sequence[float]) -> list[Setting]:
    """What the five factors need: supervised and CLIP on the narrow distribution (language at
    training time); CLIP at every mixture of the distributions (distribution) and at every size
    of the diverse set (size); cross-entropy on caption labels from the diverse set (the loss).
    Language at test time compares two heads of the same CLIP models."""
    runs = [Setting("supervised", 0.0, 1.0)]
    runs += [Setting("clip", f, 1.0) for f in sorted({0.0, 1.0, *diverse_fractions})]
    runs += [Setting("clip", 1.0, s) for s in sorted(set(size_fractions) - {1.0})]
    runs.append(Setting("caption_labels", 1.0, 1.0))
    return runs


def _checkpoint_metrics(stack: StackedModels, tests: dict[str, ShapesData], logits_fn):
    """Accuracy on every test set of models in the middle of training, ``(M,)`` per test set;
    ``logits_fn(params, pixels)`` gives the models' class scores ``(M, n, K)``."""
    inputs = {name: (pixels(d.images.to(stack.device), stack.visual), _labels(d)) for name, d in tests.items()}

    def metrics(params):
        return {name: torch.tensor([_accuracy(out, labels) for out in logits_fn(params, x)])
                for name, (x, labels) in inputs.items()}

    return metrics


def _zero_shot_logits(stack: StackedModels, prompts: torch.Tensor, n_classes: int):
    """CLIP's zero-shot classifier for stacked models, in eval mode: each class is the mean of
    the normalized text features of its prompt ensemble (``prompts``: K equal-size ensembles in
    class order), scored against the normalized image features."""
    def logits(params, x):
        image, text, _ = stack.evaluate(params, x, prompts)
        head = F.normalize(text.unflatten(1, (n_classes, -1)).mean(2), dim=-1)
        return image @ head.transpose(1, 2)

    return logits


def _fit_measured(stack: StackedModels, loss_fn, n_samples: int, config: TrainConfig, tests, logits_fn,
                  desc: str) -> pd.DataFrame:
    """Train, measuring every test set at every logged step: one row per checkpoint (step > 0)."""
    result = fit(stack, loss_fn, n_samples, config, metrics=_checkpoint_metrics(stack, tests, logits_fn), desc=desc)
    history = result.history[(result.history.metric != "loss") & (result.history.step > 0)]
    return history.pivot_table(index="step", columns="metric", values="value").reset_index()


def _row(setting: Setting, seed: int, head: str, step: int, accuracies: dict[str, float], shifts) -> dict:
    ood = float(np.mean([accuracies[s] for s in shifts]))
    return {"method": setting.method, "head": head, "diverse_fraction": setting.diverse_fraction,
            "size_fraction": setting.size_fraction, "seed": seed, "step": step, "id_accuracy": accuracies[ID],
            "ood_accuracy": ood, **{f"acc_{k}": accuracies[k] for k in shifts}}


def run_setting(world: DiversityWorld, setting: Setting, seed: int, config: TrainConfig, tests: dict[str, ShapesData],
                model_name: str = "tiny-rn", text_layers: int = 1, device: torch.device | None = None) -> list[dict]:
    """Train one model and measure it: one row per (head, checkpoint) with ID, per-shift and mean
    OOD accuracy. Classifiers and CLIP's zero-shot head are measured at every logged step (the
    supervised checkpoints are the baseline's models); the linear probe at the end."""
    device = device or default_device()
    data = training_set(world, setting.diverse_fraction, setting.size_fraction, seed)
    config = replace(config, seed=seed)
    shifts = world.shift_styles
    if setting.method != "clip":
        images, labels = data.images, data.labels
        if setting.method == "caption_labels":
            derived = torch.from_numpy(caption_labels(data.captions, world.class_names))
            images, labels = images[derived >= 0], derived[derived >= 0]
        stack = StackedModels([create_supervised(model_name, len(world.class_names), seed=seed)], device)
        checkpoints = _fit_measured(stack, supervised_loss_fn(stack, images, labels), len(images), config, tests,
                                    stack.evaluate, "supervised")
        return [_row(setting, seed, "classifier", int(r["step"]), r, shifts) for r in checkpoints.to_dict("records")]
    tokenizer = WordTokenizer(context_length=world.context_length)
    model = create_clip(model_name, seed=seed, text_cfg={"context_length": world.context_length, "layers": text_layers})
    stack = StackedModels([model], device)
    prompts = tokenizer([p for ensemble in zero_shot_prompts(world.class_names) for p in ensemble]).to(device)
    checkpoints = _fit_measured(stack, clip_loss_fn(stack, data.images, tokenizer(data.captions)), len(data.images),
                                config, tests, _zero_shot_logits(stack, prompts, len(world.class_names)), "CLIP")
    rows = [_row(setting, seed, "zero-shot", int(r["step"]), r, shifts) for r in checkpoints.to_dict("records")]
    probe = linear_probe(image_features(model, data.images), data.labels, seed)
    probed = {name: float((probe.predict(image_features(model, d.images).cpu().numpy()) == _labels(d)).mean())
              for name, d in tests.items()}
    return rows + [_row(setting, seed, "linear probe", config.steps, probed, shifts)]


class Sweep(NamedTuple):
    results: pd.DataFrame  # one row per (setting, seed, head, checkpoint)
    seconds: float


def run_sweep(world: DiversityWorld, runs: Sequence[Setting], seeds: Sequence[int], config: TrainConfig, **kwargs) -> Sweep:
    """Every setting at every seed, one model at a time (on a CPU a loop beats stacking these towers)."""
    started = time.perf_counter()
    tests = test_sets(world)
    rows = []
    for seed in progress(list(seeds), desc="seeds", unit="seed"):
        for setting in runs:
            rows += run_setting(world, setting, seed, config, tests, **kwargs)
    return Sweep(pd.DataFrame(rows), time.perf_counter() - started)


# ---------------------------------------------------------------- effective robustness and the factors

def is_baseline(results: pd.DataFrame) -> pd.Series:
    """The baseline's models: supervised classifiers on the narrow distribution, every checkpoint."""
    return (results.method == "supervised") & (results.diverse_fraction == 0)


def final(results: pd.DataFrame) -> pd.DataFrame:
    """Each model's last checkpoint."""
    last = results.groupby(["method", "head", "diverse_fraction", "size_fraction", "seed"]).step.transform("max")
    return results[results.step == last]


def with_effective_robustness(results: pd.DataFrame) -> tuple[pd.DataFrame, BaselineFit]:
    """Add ``er`` (OOD accuracy minus the baseline line at the model's ID accuracy) to every row."""
    base = results[is_baseline(results)]
    line = fit_baseline(base.id_accuracy, base.ood_accuracy)
    return results.assign(er=line.effective_robustness(results.id_accuracy, results.ood_accuracy)), line


FACTORS = {
    "training set size": (("clip", "zero-shot", 1.0, "full"), ("clip", "zero-shot", 1.0, "small")),
    "training distribution": (("clip", "zero-shot", 1.0, "full"), ("clip", "zero-shot", 0.0, "full")),
    "language at training time": (("clip", "zero-shot", 0.0, "full"), ("supervised", "classifier", 0.0, "full")),
    "language at test time": (("clip", "zero-shot", 1.0, "full"), ("clip", "linear probe", 1.0, "full")),
    "contrastive loss": (("clip", "zero-shot", 1.0, "full"), ("caption_labels", "classifier", 1.0, "full")),
}
"""Factor -> (with it, without it): (method, head, diverse fraction, size). Each factor's effect
is the change in effective robustness, paired by seed, when only that factor changes."""


def model_names(results: pd.DataFrame) -> pd.Series:
    """A reader's name for each row's model: method, head, training distribution, size."""
    method = results.method.map({"clip": "CLIP", "supervised": "supervised", "caption_labels": "caption labels"})
    head = np.where(results.method == "clip", " " + results["head"], "")
    data = np.select([results.diverse_fraction == 0, results.diverse_fraction == 1], ["narrow", "diverse"],
                     (results.diverse_fraction * 100).round().astype(int).astype(str) + "% diverse")
    size = np.where(results.size_fraction < 1, " (" + (results.size_fraction * 100).round().astype(int).astype(str)
                    + "% size)", "")
    return method + head + ", " + data + size


def shift_effective_robustness(results: pd.DataFrame, shifts: Sequence[str]) -> pd.DataFrame:
    """ER on each shift separately (its own baseline line), final checkpoints, long format."""
    base, last = results[is_baseline(results)], final(results)
    rows = []
    for shift in shifts:
        line = fit_baseline(base.id_accuracy, base[f"acc_{shift}"])
        er = line.effective_robustness(last.id_accuracy, last[f"acc_{shift}"])
        rows.append(last.assign(shift=shift, er=er, model=model_names(last)))
    return pd.concat(rows, ignore_index=True)


def factor_effects(results: pd.DataFrame) -> pd.DataFrame:
    """ER(with) - ER(without) per factor and seed, on the models' final checkpoints (``results``
    must have ``er``). ``small`` is the smallest size fraction run."""
    last = final(results)
    small = last.size_fraction.min()

    def er(method, head, fraction, size):
        rows = last[(last.method == method) & (last["head"] == head) & (last.diverse_fraction == fraction)
                    & (last.size_fraction == (1.0 if size == "full" else small))]
        return rows.set_index("seed").er

    rows = []
    for factor, (with_, without) in FACTORS.items():
        if small == 1.0 and factor == "training set size":
            continue
        delta = er(*with_) - er(*without)
        rows += [{"factor": factor, "seed": s, "delta_er": d} for s, d in delta.dropna().items()]
    return pd.DataFrame(rows)


def factor_intervals(effects: pd.DataFrame) -> dict[str, Interval]:
    """Mean change in ER per factor with its 95% Student-t interval over seeds."""
    return {f: mean_ci(g.delta_er) for f, g in effects.groupby("factor", sort=False)}


def factor_table(effects: pd.DataFrame) -> pd.DataFrame:
    """:func:`factor_intervals` as a table."""
    rows = factor_intervals(effects)
    return pd.DataFrame({f: {"delta ER": round(i.mean, 3), "95% CI": f"[{i.lo:.3f}, {i.hi:.3f}]", "seeds": i.n}
                         for f, i in rows.items()}).T
