"""CLIP on real image-text pairs, trained by ``open_clip_train``, with every epoch's checkpoint
tested on ImageNet and its shifts: what the chapters' ``paper`` profiles share.

Chapter 4 trains on ImageNet-Captions (Fang et al.), Chapter 2 on MSCOCO or Conceptual Captions
(Xue et al.); both read the same test sets from one data root laid out as :data:`TEST_LAYOUT`
(each entry may be a symbolic link), checked by :func:`locate` before any compute.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Mapping, NamedTuple, Sequence

import open_clip
import pandas as pd
import torch

from clipbook.data import imagenet
from clipbook.data.sources import SOURCES
from clipbook.device import default_device
from clipbook.evaluate.imagenet import imagenet_accuracy, load_model, predict
from clipbook.evaluate.zero_shot import open_clip_logits
from clipbook.models.towers import TINY_MODELS, model_config
from clipbook.training.image_files import epoch_checkpoints
from clipbook.training.launcher import export_model_config, open_clip_train_command

TEST_LAYOUT = {
    "imagenet": "imagenet/val",
    "imagenet_v2": "imagenetv2-matched-frequency",
    "imagenet_sketch": "imagenet-sketch",
    "imagenet_r": "imagenet-r",
    "imagenet_a": "imagenet-a",
    "objectnet": "objectnet-1.0",
}
"""Test set key (as in :data:`clipbook.data.sources.SOURCES`) -> its path under the data root."""

SHIFTS = ("imagenet_v2", "imagenet_sketch", "imagenet_r", "imagenet_a", "objectnet")
"""The five shifts Fang et al. average their OOD accuracy over."""

PROMPTS = {"openai": open_clip.OPENAI_IMAGENET_TEMPLATES, "simple": open_clip.SIMPLE_IMAGENET_TEMPLATES}
"""Zero-shot prompt ensembles: CLIP's 80 ImageNet templates, or the 7 its authors found nearly as good."""


def prompt_templates(templates: str | Sequence) -> Sequence:
    """The prompt ensemble ``templates`` names (a key of :data:`PROMPTS`), or the format strings
    given; an unknown name is an error that lists the known ones."""
    if not isinstance(templates, str):
        return templates
    if templates not in PROMPTS:
        raise ValueError(f"prompts must be one of {tuple(PROMPTS)}, got {templates!r}")
    return PROMPTS[templates]


def locate(root: str | Path, layout: Mapping[str, str], keys: Sequence[str], *, parameters: str) -> dict[str, Path]:
    """The paths of ``keys`` under ``root`` in ``layout``, or one error naming every missing piece,
    where it goes and where to get it, and the chapter's ``parameters`` that name other places."""
    root = Path(root).expanduser().resolve()
    paths = {key: root / layout[key] for key in keys}
    absent = [key for key, path in paths.items() if not path.exists()]
    if absent:
        lines = [f"  {paths[k]}: {SOURCES[k][0]}, {SOURCES[k][1]}" for k in absent]
        raise FileNotFoundError(f"the real-data experiment needs, under {root}:\n" + "\n".join(lines)
                                + "\nThe book never downloads data sets: fetch them and put or link them there, or name "
                                f"other places (the chapter's {parameters}).")
    return paths


def check_shifts(shifts: Sequence[str]) -> None:
    unknown = set(shifts) - set(SHIFTS)
    if unknown:
        raise ValueError(f"unknown shifts {sorted(unknown)}; choose from {SHIFTS}")


def layout_table(layout: Mapping[str, str], root: str | Path = "DATA") -> pd.DataFrame:
    """A data layout as a table a reader can follow."""
    return pd.DataFrame([{"path": str(Path(root) / path), "data set": SOURCES[key][0],
                          "what to put there": SOURCES[key][1]} for key, path in layout.items()]).set_index("path")


class RealConfig(NamedTuple):
    """How every model of a real-data experiment trains; ``batch_size`` is per GPU for CLIP."""

    model: str = "RN50"
    epochs: int = 32
    batch_size: int = 256
    lr: float = 5e-4
    weight_decay: float = 0.1
    warmup: int = 2000
    gpus: int | None = None  # open_clip_train processes (torchrun); None: one plain process
    workers: int = 8
    precision: str = "amp"
    seed: int = 0


def _model_argument(name: str, out: Path) -> str:
    """The ``--model`` value: a built-in open_clip name as is, a book config exported to a folder."""
    return export_model_config(name, out / "model") if name in TINY_MODELS else name


def train_clip(train_csv: str | Path, out: str | Path, run: str, config: RealConfig,
               device: str | None = None) -> dict[int, Path]:
    """CLIP trained by ``open_clip_train`` on a CSV of pairs, a checkpoint per epoch under
    ``out/run/checkpoints``; a rerun resumes after the last checkpoint (``--resume latest``)."""
    out = Path(out).resolve()
    checkpoints = out / run / "checkpoints"
    if config.epochs in epoch_checkpoints(checkpoints):
        return epoch_checkpoints(checkpoints)
    command = open_clip_train_command(
        train_csv, model=_model_argument(config.model, out), logs=out, name=run, nproc_per_node=config.gpus,
        batch_size=config.batch_size, epochs=config.epochs, lr=config.lr, warmup=config.warmup,
        workers=config.workers, precision=config.precision, seed=config.seed, device=device,
        extra=["--wd", str(config.weight_decay), "--save-frequency", "1", "--resume", "latest"])
    print(f"Training {run} with open_clip_train; progress in {out / run / 'out.log'}", flush=True)
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0 or config.epochs not in epoch_checkpoints(checkpoints):
        raise RuntimeError(f"open_clip_train failed (exit {done.returncode}); its log is {out / run / 'out.log'}. "
                           f"Command: {' '.join(command)}\n{done.stderr[-3000:]}")
    return epoch_checkpoints(checkpoints)


def preprocess(model: str, is_train: bool):
    """open_clip's preprocessing for the model's input size: training augmentation as in
    open_clip_train, or the evaluation resize and crop; both with CLIP's normalization."""
    size = model_config(model)["vision_cfg"]["image_size"]
    return open_clip.image_transform(size, is_train=is_train, mean=open_clip.OPENAI_DATASET_MEAN,
                                     std=open_clip.OPENAI_DATASET_STD)


def evaluation_sets(paths: Mapping[str, Path], model: str, shifts: Sequence[str] = SHIFTS) -> dict:
    """ImageNet val and the shifted sets, with CLIP's evaluation preprocessing for ``model``."""
    transform = preprocess(model, is_train=False)
    sets = {name: imagenet.imagenet_variant(name, paths[name], transform) for name in ("imagenet", *shifts)
            if name != "objectnet"}
    if "objectnet" in shifts:
        sets["objectnet"] = imagenet.objectnet(paths["objectnet"], transform=transform)
    return sets


def evaluate_checkpoints(checkpoints: Mapping[tuple[str, str], Mapping[int, Path]], sets: Mapping[str, object],
                         model: str, out: str | Path, *, templates: str | Sequence = "openai",
                         batch_size: int = 256, workers: int = 8, device: torch.device | None = None) -> pd.DataFrame:
    """Accuracy of every checkpoint on every test set: one row per (run, epoch, test set).

    ``checkpoints`` maps (method, run) to {epoch: file}; method ``clip`` is scored zero-shot with
    ``templates`` (a name in :data:`PROMPTS`, or format strings), ``supervised`` by its head. Rows
    are appended to ``out/accuracies.csv`` as they come, and a rerun skips what that file already
    holds.
    """
    device = device or default_device()
    templates = prompt_templates(templates)
    store = Path(out) / "accuracies.csv"
    rows = pd.read_csv(store).to_dict("records") if store.exists() else []
    done = {(r["run"], r["epoch"], r["test_set"]) for r in rows}
    for (method, run), files in checkpoints.items():
        for epoch, file in files.items():
            todo = [name for name in sets if (run, epoch, name) not in done]
            if not todo:
                continue
            loaded = load_model(method, model, file, device)
            logits_fn = (open_clip_logits(loaded, open_clip.get_tokenizer(model), imagenet.imagenet_classnames(), templates,
                                          device) if method == "clip" else loaded)
            for name in todo:
                logits, labels = predict(logits_fn, sets[name], batch_size=batch_size, workers=workers, device=device,
                                         desc=f"{run} epoch {epoch}, {name}")
                rows.append(dict(method=method, run=run, epoch=epoch, test_set=name,
                                 accuracy=imagenet_accuracy(logits, labels, name, sets[name])))
                pd.DataFrame(rows).to_csv(store, index=False)
    return pd.DataFrame(rows, columns=["method", "run", "epoch", "test_set", "accuracy"])


def id_ood(accuracies: pd.DataFrame, shifts: Sequence[str] = SHIFTS) -> pd.DataFrame:
    """One row per checkpoint: ImageNet accuracy (ID) and the mean over the shifts (OOD)."""
    wide = accuracies.pivot_table(index=["method", "run", "epoch"], columns="test_set", values="accuracy")
    missing = [s for s in ("imagenet", *shifts) if s not in wide.columns]
    if missing:
        raise ValueError(f"no accuracies on {missing}: evaluate on every test set first")
    return wide.assign(id_accuracy=wide["imagenet"], ood_accuracy=wide[list(shifts)].mean(axis=1)).reset_index()
