"""The path past one machine: hand a data set to ``open_clip_train``.

The book trains its tiny models with its own loop (:mod:`clipbook.training.stacked`); at the
papers' scale the reference trainer is open_clip's. This module exports image-caption data to
the two formats ``open_clip_train`` reads (a CSV of ``filepath,caption`` and webdataset tar
shards of ``.png``/``.jpg`` + ``.txt``), exports a model configuration it can load
(``--model local-dir:...``), builds the ``torchrun ... -m open_clip_train.main`` command for a
multi-GPU run and reads its log. We do not write our own distributed trainer.
"""

from __future__ import annotations

import io
import json
import re
import sys
import tarfile
import warnings
from importlib import metadata
from pathlib import Path
from typing import Sequence

import pandas as pd
import torch
from PIL import Image

from clipbook.models.towers import model_config

BPE_VOCAB_SIZE = 49408
"""Size of open_clip's BPE vocabulary: ``open_clip_train`` tokenizes captions with it."""


def _pil(image: torch.Tensor) -> Image.Image:
    """(3, H, W) uint8 in [0, 255] or float in [0, 1] -> RGB PIL image."""
    if image.dtype != torch.uint8:
        image = (image.float().clamp(0, 1) * 255).round().to(torch.uint8)
    return Image.fromarray(image.permute(1, 2, 0).cpu().numpy(), mode="RGB")


def _encoded(image: torch.Tensor, image_format: str) -> bytes:
    buffer = io.BytesIO()
    _pil(image).save(buffer, format={"png": "PNG", "jpg": "JPEG"}[image_format], quality=95)
    return buffer.getvalue()


def _check(images: torch.Tensor, captions: Sequence[str], image_format: str) -> None:
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be (N, 3, H, W), got {tuple(images.shape)}")
    if len(captions) != len(images):
        raise ValueError(f"{len(images)} images but {len(captions)} captions")
    if image_format not in ("png", "jpg"):
        raise ValueError(f"image_format must be 'png' or 'jpg', not {image_format!r}")


def export_csv(images: torch.Tensor, captions: Sequence[str], folder: str | Path, *,
               image_format: str = "png") -> Path:
    """Images as files under ``folder/images`` and ``folder/train.csv`` with columns
    ``filepath`` (absolute) and ``caption``, comma-separated; returns the CSV's path.

    Train on it with ``--train-data folder/train.csv --csv-separator , --csv-img-key filepath
    --csv-caption-key caption`` (:func:`open_clip_train_command` adds these).
    """
    _check(images, captions, image_format)
    image_dir = Path(folder).resolve() / "images"
    image_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, image in enumerate(images):
        path = image_dir / f"{i:07d}.{image_format}"
        path.write_bytes(_encoded(image, image_format))
        paths.append(str(path))
    csv = image_dir.parent / "train.csv"
    pd.DataFrame({"filepath": paths, "caption": list(captions)}).to_csv(csv, index=False)
    return csv


def export_webdataset(images: torch.Tensor, captions: Sequence[str], folder: str | Path, *,
                      shard_size: int = 10_000, image_format: str = "png") -> str:
    """Webdataset shards ``folder/shard-NNNNN.tar`` holding ``KEY.png`` (or ``.jpg``) and
    ``KEY.txt`` per sample; returns the brace pattern ``--train-data`` takes."""
    _check(images, captions, image_format)
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    n_shards = max(1, -(-len(images) // shard_size))
    for shard in range(n_shards):
        with tarfile.open(folder / f"shard-{shard:05d}.tar", "w") as tar:
            for i in range(shard * shard_size, min((shard + 1) * shard_size, len(images))):
                for suffix, data in ((image_format, _encoded(images[i], image_format)), ("txt", captions[i].encode())):
                    info = tarfile.TarInfo(f"{i:09d}.{suffix}")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
    return str(folder / f"shard-{{00000..{n_shards - 1:05d}}}.tar")


def export_model_config(name: str, folder: str | Path) -> str:
    """Write a registered model's configuration where ``open_clip_train`` (a separate process,
    which has not imported clipbook's configs) can load it; returns the ``--model`` value."""
    config = model_config(name)
    text = config["text_cfg"]
    if "hf_tokenizer_name" not in text and text.get("vocab_size", BPE_VOCAB_SIZE) < BPE_VOCAB_SIZE:
        raise ValueError(f"{name} has a {text['vocab_size']}-token vocabulary, but open_clip_train tokenizes "
                         f"captions with open_clip's BPE ({BPE_VOCAB_SIZE} tokens): use a BPE configuration "
                         "such as 'tiny-vit-bpe'")
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": config, "preprocess_cfg": {}}, indent=2))
    return f"local-dir:{folder}"


def open_clip_train_command(train_data: str | Path, *, model: str, logs: str | Path, name: str,
                            nproc_per_node: int | None = None, batch_size: int = 256, epochs: int = 1,
                            train_num_samples: int | None = None, lr: float = 5e-4, warmup: int = 0,
                            workers: int = 4, precision: str = "amp", seed: int = 0, device: str | None = None,
                            extra: Sequence[str] = ()) -> list[str]:
    """The command line of an ``open_clip_train`` run on exported data.

    ``nproc_per_node=N`` launches N processes with ``torchrun`` (one per GPU, with open_clip's
    ``--local-loss --gather-with-grad`` so each GPU computes its share of the global batch's
    logits); ``None`` runs one plain process (``python -m open_clip_train.main``). ``train_data``
    is a CSV from :func:`export_csv` or a shard pattern from :func:`export_webdataset` (then
    ``train_num_samples`` is required). ``model`` is an open_clip name or a ``local-dir:`` value
    from :func:`export_model_config`; ``--batch-size`` is per process.
    """
    train_data = str(train_data)
    is_csv = train_data.endswith(".csv")
    if not is_csv and train_num_samples is None:
        raise ValueError("webdataset shards do not say how many samples they hold: pass train_num_samples")
    if not is_csv and _major_version("webdataset") >= 1:
        warnings.warn("open_clip_train reads webdataset shards only with webdataset<=0.2.86 (what "
                      "open_clip_torch[training] pins; 1.x ends each shard with a marker its loader rejects): "
                      "pip install 'webdataset<=0.2.86' where the command runs, or export a CSV instead")
    if nproc_per_node is None:
        launcher = [sys.executable, "-m", "open_clip_train.main"]
    else:
        launcher = ["torchrun", "--nproc_per_node", str(nproc_per_node), "-m", "open_clip_train.main"]
    args = ["--train-data", train_data, "--model", model, "--logs", str(logs), "--name", name,
            "--batch-size", str(batch_size), "--epochs", str(epochs), "--lr", str(lr), "--warmup", str(warmup),
            "--workers", str(workers), "--precision", precision, "--seed", str(seed), "--report-to", ""]
    if is_csv:
        args += ["--dataset-type", "csv", "--csv-separator", ",", "--csv-img-key", "filepath",
                 "--csv-caption-key", "caption"]
    else:
        args += ["--dataset-type", "webdataset"]
    if train_num_samples is not None:
        args += ["--train-num-samples", str(train_num_samples)]
    if device is not None:
        args += ["--device", device]
    if nproc_per_node is not None and nproc_per_node > 1:
        args += ["--local-loss", "--gather-with-grad"]
    return launcher + args + list(extra)


def _major_version(package: str) -> int:
    try:
        return int(metadata.version(package).split(".")[0])
    except metadata.PackageNotFoundError:
        return 0


_LOG_LINE = re.compile(
    r"Train Epoch: (?P<epoch>\d+) \[\s*(?P<samples>\d+)/\d+ \(\d+%\)\] "
    r"Data \(t\): (?P<data_time>[\d.]+) Batch \(t\): (?P<batch_time>[\d.]+), (?P<samples_per_s>[\d.e+]+)/s.*?"
    r"LR: (?P<lr>[\d.e-]+) Logit Scale: (?P<logit_scale>[\d.]+) .*?Loss: (?P<loss>[\d.]+)")


def read_train_log(path: str | Path) -> pd.DataFrame:
    """The training lines of an ``open_clip_train`` log (``LOGS/NAME/out.log``), one row each.

    ``data_time`` and ``batch_time`` are mean seconds per step since the previous logged line
    (open_clip resets its meters at each line; ``--log-every-n-steps 1`` gives every step's);
    ``samples_per_s`` is the rate of the logged step alone.
    """
    rows = [m.groupdict() for m in map(_LOG_LINE.search, Path(path).read_text().splitlines()) if m]
    return pd.DataFrame(rows, columns=list(_LOG_LINE.groupindex)).apply(pd.to_numeric)
