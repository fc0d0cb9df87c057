"""Where the real data sets come from: one table, and the error a reader gets when one is missing.

Nothing is ever downloaded: a missing path is a ``FileNotFoundError`` that names the data set,
where it comes from, and which argument to pass its location as.
"""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image

SOURCES = {
    "csv": ("image-caption table", "a CSV/TSV in open_clip's format (columns filepath, caption, optional label)"),
    "webdataset": ("webdataset shards", "a subset of MSCOCO, CC3M or LAION as .tar shards with one .jpg and one .txt "
                                        "per sample (e.g. written by img2dataset)"),
    "imagenet": ("ImageNet validation set", "the ILSVRC-2012 validation images from image-net.org, sorted into one "
                                            "folder per WordNet id (n01440764, ...)"),
    "imagenet_train": ("ImageNet training set", "the ILSVRC-2012 training images from image-net.org, one folder per "
                                                "WordNet id"),
    "imagenet_v2": ("ImageNetV2", "ImageNetV2 (e.g. matched-frequency) from github.com/modestyachts/ImageNetV2, "
                                  "whose class folders are named 0 to 999"),
    "imagenet_sketch": ("ImageNet-Sketch", "ImageNet-Sketch from github.com/HaohanWang/ImageNet-Sketch, one folder "
                                           "per WordNet id"),
    "imagenet_r": ("ImageNet-R", "ImageNet-R from github.com/hendrycks/imagenet-r, 200 WordNet-id folders"),
    "imagenet_a": ("ImageNet-A", "ImageNet-A from github.com/hendrycks/natural-adv-examples, 200 WordNet-id folders"),
    "objectnet": ("ObjectNet", "ObjectNet 1.0 from objectnet.dev, the objectnet-1.0 folder with images/ and mappings/"),
    "imagenet_ao": ("ImageNet-AO", "the ImageNet-AO images of Abbasi et al. (github.com/abbasiReza/CLIP-COoD), one "
                                   "folder per composition named <attribute>_<object>"),
    "imagenet_captions": ("ImageNet-Captions",
                          "imagenet_captions.json from github.com/mlfoundations/imagenet-captions"),
}
"""Data set key -> (name, what to download and how it must be laid out)."""


def missing(path: str | os.PathLike, dataset: str, argument: str) -> FileNotFoundError:
    """The error for data that is not where the user said: what it is, where to get it, what to pass."""
    name, source = SOURCES[dataset]
    return FileNotFoundError(f"{name} not found at {path}: download {source}, and pass its location as "
                             f"`{argument}`. The book never downloads data sets itself.")


def require(path: str | os.PathLike, dataset: str, argument: str) -> Path:
    """``path`` as a Path if it exists, else the :func:`missing` error."""
    path = Path(path).expanduser()
    if not path.exists():
        raise missing(path, dataset, argument)
    return path


def open_rgb(path: str | os.PathLike) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")
