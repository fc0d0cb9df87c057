"""Chapter 4 on real data: CLIP vs. supervised on ImageNet-Captions (Fang et al., Sec. 4).

The experiment the synthetic chapter miniaturizes. The same ResNet trains twice on the same
ImageNet-Captions images: as CLIP on their Flickr captions (``open_clip_train``, one or more
GPUs) and as a supervised classifier on their labels (:func:`clipbook.training.image_files.train_classifier`).
Optionally a third run trains CLIP on a diverse image-caption set of the reader's choice (a
YFCC, CC or LAION subset as an open_clip CSV), the distribution factor. Every epoch's checkpoint
is tested on ImageNet val and on the shifted sets; the supervised checkpoints give the baseline
line, and each CLIP checkpoint's effective robustness is measured against it.

All data sit under one root in the layout of :data:`LAYOUT` (each entry may be a symbolic link);
:func:`locate` checks it before any compute and names everything that is missing.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Mapping, NamedTuple, Sequence

import open_clip
import pandas as pd
import torch

from clipbook.data import imagenet, real
from clipbook.data.sources import SOURCES
from clipbook.device import default_device
from clipbook.evaluate.imagenet import imagenet_accuracy, load_model, predict
from clipbook.evaluate.robustness import BaselineFit, effective_robustness_ci, fit_baseline
from clipbook.evaluate.zero_shot import open_clip_logits
from clipbook.models.towers import TINY_MODELS, create_supervised, model_config
from clipbook.training.image_files import epoch_checkpoints, train_classifier
from clipbook.training.launcher import export_model_config, open_clip_train_command

LAYOUT = {
    "imagenet_captions": "imagenet_captions.json",
    "imagenet_train": "imagenet/train",
    "imagenet": "imagenet/val",
    "imagenet_v2": "imagenetv2-matched-frequency",
    "imagenet_sketch": "imagenet-sketch",
    "imagenet_r": "imagenet-r",
    "imagenet_a": "imagenet-a",
    "objectnet": "objectnet-1.0",
}
"""Data set key (as in :data:`clipbook.data.SOURCES`) -> its path under the data root."""

SHIFTS = ("imagenet_v2", "imagenet_sketch", "imagenet_r", "imagenet_a", "objectnet")
"""The five shifts Fang et al. average their OOD accuracy over."""

PROMPTS = {"openai": open_clip.OPENAI_IMAGENET_TEMPLATES, "simple": open_clip.SIMPLE_IMAGENET_TEMPLATES}
"""Zero-shot prompt ensembles: CLIP's 80 ImageNet templates, or the 7 its authors found nearly as good."""

def locate(root: str | Path, shifts: Sequence[str] = SHIFTS, diverse_pairs: str | Path | None = None) -> dict[str, Path]:
    """The paths of the training data and the test sets under ``root``, or one error naming
    every missing piece, where it goes and where to get it; then, still before any compute, the
    inputs are opened and checked (ImageNet-Captions parses and its images are there; the
    optional ``diverse_pairs`` CSV has open_clip's columns and its first images exist)."""
    unknown = set(shifts) - set(SHIFTS)
    if unknown:
        raise ValueError(f"unknown shifts {sorted(unknown)}; choose from {SHIFTS}")
    root = Path(root).expanduser().resolve()
    needed = ["imagenet_captions", "imagenet_train", "imagenet", *shifts]
    paths = {key: root / LAYOUT[key] for key in needed}
    absent = [key for key, path in paths.items() if not path.exists()]
    if absent:
        lines = [f"  {paths[k]}: {SOURCES[k][0]}, {SOURCES[k][1]}" for k in absent]
        raise FileNotFoundError(f"the real-data experiment needs, under {root}:\n" + "\n".join(lines)
                                + "\nThe book never downloads data sets: fetch them and put or link them there, or name "
                                "another root (the chapter's `real_data` parameter).")
    real.imagenet_captions(paths["imagenet_captions"], paths["imagenet_train"])
    if diverse_pairs is not None:
        paths["diverse_pairs"] = real.check_pairs_csv(diverse_pairs)
    return paths


def layout_table(root: str | Path = "DATA") -> pd.DataFrame:
    """The folder layout the experiment reads, as a table a reader can follow."""
    return pd.DataFrame([{"path": str(Path(root) / LAYOUT[key]), "data set": SOURCES[key][0],
                          "what to put there": SOURCES[key][1]} for key in LAYOUT]).set_index("path")


def export_captions_csv(captions_json: str | Path, train_root: str | Path, path: str | Path,
                        fields: Sequence[str] = ("title", "description", "tags")) -> Path:
    """ImageNet-Captions as open_clip's CSV (absolute ``filepath``, ``caption``, ``label``),
    images that have no text in the chosen fields left out; the images are not copied."""
    pairs = real.imagenet_captions(captions_json, train_root, fields=fields)
    table = pd.DataFrame({"filepath": [str(Path(p).resolve()) for p in pairs.paths], "caption": pairs.captions,
                          "label": pairs.labels})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table[table.caption.str.strip() != ""].to_csv(path, index=False)
    return path


class RealConfig(NamedTuple):
    """How every model of the experiment trains; ``batch_size`` is per GPU for CLIP."""

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


def train_supervised(train_csv: str | Path, out: str | Path, run: str, config: RealConfig,
                     device: torch.device | None = None) -> dict[int, Path]:
    """The same image tower with a 1000-way prototype head, cross-entropy on the images' labels,
    with open_clip_train's augmentation and schedule; checkpoints under ``out/run/checkpoints``."""
    pairs = real.csv_dataset(train_csv, transform=_preprocess(config.model, is_train=True), target="label")
    return train_classifier(create_supervised(config.model, n_classes=1000, seed=config.seed), pairs, Path(out) / run / "checkpoints", epochs=config.epochs,
                            batch_size=config.batch_size * (config.gpus or 1), lr=config.lr,
                            weight_decay=config.weight_decay, warmup=config.warmup,
                            workers=config.workers, seed=config.seed, device=device)


def _preprocess(model: str, is_train: bool):
    """open_clip's preprocessing for the model's input size: training augmentation as in
    open_clip_train, or the evaluation resize and crop; both with CLIP's normalization."""
    size = model_config(model)["vision_cfg"]["image_size"]
    return open_clip.image_transform(size, is_train=is_train, mean=open_clip.OPENAI_DATASET_MEAN,
                                     std=open_clip.OPENAI_DATASET_STD)


def evaluation_sets(paths: Mapping[str, Path], model: str, shifts: Sequence[str] = SHIFTS) -> dict:
    """ImageNet val and the shifted sets, with CLIP's evaluation preprocessing for ``model``."""
    preprocess = _preprocess(model, is_train=False)
    sets = {name: imagenet.imagenet_variant(name, paths[name], preprocess) for name in ("imagenet", *shifts)
            if name != "objectnet"}
    if "objectnet" in shifts:
        sets["objectnet"] = imagenet.objectnet(paths["objectnet"], transform=preprocess)
    return sets


def evaluate_checkpoints(checkpoints: Mapping[tuple[str, str], Mapping[int, Path]], sets: Mapping[str, object],
                         model: str, out: str | Path, *, templates: Sequence = open_clip.OPENAI_IMAGENET_TEMPLATES,
                         batch_size: int = 256, workers: int = 8, device: torch.device | None = None) -> pd.DataFrame:
    """Accuracy of every checkpoint on every test set: one row per (run, epoch, test set).

    ``checkpoints`` maps (method, run) to {epoch: file}; method ``clip`` is scored zero-shot,
    ``supervised`` by its head. Rows are appended to ``out/accuracies.csv`` as they come, and a
    rerun skips what that file already holds.
    """
    device = device or default_device()
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


def effective_robustness(points: pd.DataFrame, *, n_boot: int = 1000) -> tuple[pd.DataFrame, BaselineFit]:
    """ER of every CLIP run's final checkpoint against the line through the supervised
    checkpoints, with a bootstrap interval over the baseline models; and the line itself."""
    base = points[points.method == "supervised"]
    line = fit_baseline(base.id_accuracy, base.ood_accuracy)
    last = points[points.epoch == points.groupby("run").epoch.transform("max")]
    rows = []
    for row in last.itertuples():
        ci = effective_robustness_ci(base.id_accuracy, base.ood_accuracy, [row.id_accuracy], [row.ood_accuracy],
                                     n_boot=n_boot)
        rows.append(dict(method=row.method, run=row.run, epoch=row.epoch, id_accuracy=row.id_accuracy,
                         ood_accuracy=row.ood_accuracy, er=ci.mean, er_lo=ci.lo, er_hi=ci.hi))
    return pd.DataFrame(rows), line


def run(root: str | Path, out: str | Path, config: RealConfig = RealConfig(), *, diverse_pairs: str | Path | None = None,
        shifts: Sequence[str] = SHIFTS, templates: str | Sequence[str] = "openai",
        device: str | None = None) -> pd.DataFrame:
    """The whole experiment, resumable at every stage: export, three trainings, evaluation.
    Returns the accuracy of every checkpoint on every test set (see :func:`id_ood`).
    ``templates`` names one of :data:`PROMPTS` or lists format strings."""
    paths = locate(root, shifts, diverse_pairs)
    out = Path(out).expanduser().resolve()
    torch_device = torch.device(device) if device else default_device()
    captions = out / "imagenet_captions.csv"
    if not captions.exists():
        export_captions_csv(paths["imagenet_captions"], paths["imagenet_train"], captions)
    checkpoints = {("supervised", "supervised-imagenet-captions"):
                   train_supervised(captions, out, "supervised-imagenet-captions", config, torch_device),
                   ("clip", "clip-imagenet-captions"): train_clip(captions, out, "clip-imagenet-captions", config,
                                                                  device)}
    if diverse_pairs is not None:
        checkpoints["clip", "clip-diverse"] = train_clip(paths["diverse_pairs"], out, "clip-diverse", config, device)
    sets = evaluation_sets(paths, config.model, shifts)
    templates = PROMPTS[templates] if isinstance(templates, str) else templates
    return evaluate_checkpoints(checkpoints, sets, config.model, out, templates=templates,
                                batch_size=config.batch_size, workers=config.workers, device=torch_device)

