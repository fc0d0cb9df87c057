"""ImageNet-style test sets a user points the book at: ImageNet val, ImageNetV2, -Sketch, -R, -A
and ObjectNet, each a torch ``Dataset`` of ``(image, label)``.

Labels are ImageNet-1k indices (sorted WordNet ids, the order of
``open_clip.IMAGENET_CLASSNAMES``), so one zero-shot head serves all of them; the 200-class sets
(-R, -A) say which classes they hold in ``class_indices``, to mask the other 800 logits.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from PIL import Image
from torchvision.datasets import ImageFolder

from clipbook.data.sources import SOURCES, open_rgb, require


def _open_cropped(path: str) -> Image.Image:
    """ObjectNet images carry a thin red frame; the usual evaluation crops 2 px off each side."""
    image = open_rgb(path)
    return image.crop((2, 2, image.width - 2, image.height - 2))


@cache
def imagenet_wnids() -> tuple[str, ...]:
    """The 1000 ImageNet-1k WordNet ids in class-index order (sorted), from timm's metadata."""
    from timm.data import ImageNetInfo

    return tuple(ImageNetInfo().label_names())


def imagenet_classnames() -> tuple[str, ...]:
    """Readable ImageNet class names in class-index order (open_clip's list, as CLIP used them)."""
    from open_clip import IMAGENET_CLASSNAMES

    return tuple(IMAGENET_CLASSNAMES)


class ClassFolders(ImageFolder):
    """torchvision's ImageFolder with each class folder's label given, not its sorted position.

    Only folders named in ``class_to_idx`` are read. ``class_indices`` lists the labels present
    (sorted), e.g. the 200 ImageNet classes of ImageNet-R, to mask a 1000-way head.
    """

    def __init__(self, root: str | os.PathLike, class_to_idx: Mapping[str, int], transform: Callable | None = None,
                 loader: Callable[[str], Any] = open_rgb):
        self.given = dict(class_to_idx)
        super().__init__(str(root), transform=transform, loader=loader)
        self.class_indices = sorted(set(self.class_to_idx.values()))

    def find_classes(self, directory: str) -> tuple[list[str], dict[str, int]]:
        present = sorted(e.name for e in os.scandir(directory) if e.is_dir() and e.name in self.given)
        if not present:
            raise FileNotFoundError(f"no class folder under {directory} is one of the expected "
                                    f"{len(self.given)} (e.g. {next(iter(self.given))})")
        return present, {name: self.given[name] for name in present}


IMAGENET_VARIANTS = ("imagenet", "imagenet_v2", "imagenet_sketch", "imagenet_r", "imagenet_a")


def _variant_classes(name: str, root: Path) -> dict[str, int]:
    """Folder name -> ImageNet-1k index; unknown folders mean the wrong layout and are an error."""
    if name == "imagenet_v2":
        mapping = {str(i): i for i in range(1000)}  # folder i holds class i (the i-th sorted wnid)
    else:
        mapping = {wnid: i for i, wnid in enumerate(imagenet_wnids())}
    unknown = sorted(e.name for e in os.scandir(root) if e.is_dir() and e.name not in mapping)
    if unknown:
        raise ValueError(f"{root}: unexpected class folders {unknown[:5]}; {SOURCES[name][0]} has {SOURCES[name][1]}")
    return mapping


def imagenet_variant(name: str, root: str | os.PathLike, transform: Callable | None = None) -> ClassFolders:
    """An ImageNet test set laid out as class folders, with ImageNet-1k labels.

    ``name``: ``imagenet`` (val), ``imagenet_v2`` (folders 0..999), ``imagenet_sketch``,
    ``imagenet_r`` or ``imagenet_a`` (their 200-class subsets are the WordNet ids present).
    """
    if name not in IMAGENET_VARIANTS:
        raise ValueError(f"unknown ImageNet variant {name!r}; choose from {IMAGENET_VARIANTS}")
    root = require(root, name, "root")
    dataset = ClassFolders(root, _variant_classes(name, root), transform)
    dataset.classnames = [imagenet_classnames()[i] for i in dataset.class_indices]
    return dataset


def objectnet_class_map(mappings: str | os.PathLike) -> dict[str, list[int]]:
    """ObjectNet folder -> ImageNet-1k indices, from the ``mappings/`` folder of the ObjectNet release.

    The release maps folders to ObjectNet names (``folder_to_objectnet_label.json``), those to
    ImageNet class names (``objectnet_to_imagenet_1k.json``, ``;``-separated), the names to
    ImageNet 2012 ids (line order of ``imagenet_to_label_2012_v2``), and those to the sorted-wnid
    indices used here (``pytorch_to_imagenet_2012_id.json``). Only the 113 overlapping classes map.
    """
    mappings = require(mappings, "objectnet", "class_map")

    def load(name):
        return json.loads((mappings / name).read_text())

    label_of_folder = load("folder_to_objectnet_label.json")
    imagenet_names = load("objectnet_to_imagenet_1k.json")
    index_of_id = {int(v): int(k) for k, v in load("pytorch_to_imagenet_2012_id.json").items()}
    names_by_id = (mappings / "imagenet_to_label_2012_v2").read_text().splitlines()
    id_of_name = {name.strip(): i for i, name in enumerate(names_by_id)}
    return {folder: [index_of_id[id_of_name[n]] for n in imagenet_names[label].split("; ")]
            for folder, label in label_of_folder.items() if label in imagenet_names}


def objectnet(root: str | os.PathLike, class_map: str | os.PathLike | Mapping[str, Sequence[int]] | None = None,
              transform: Callable | None = None, crop_border: bool = True) -> ClassFolders:
    """ObjectNet's classes that overlap ImageNet, labelled 0..K-1 in sorted folder order.

    ``root`` is the ``objectnet-1.0`` folder (or its ``images/`` folder). ``class_map`` is a
    dict or JSON file {folder: [ImageNet-1k indices]} or the release's ``mappings/`` folder
    (default: ``root/mappings``). ``imagenet_indices[k]`` lists the ImageNet classes of label k
    (pool their logits, e.g. by max, to score a 1000-way model).
    """
    root = require(root, "objectnet", "root")
    images = root / "images" if (root / "images").is_dir() else root
    class_map = root / "mappings" if class_map is None else class_map
    if not isinstance(class_map, Mapping):
        path = require(class_map, "objectnet", "class_map")
        class_map = objectnet_class_map(path) if path.is_dir() else json.loads(path.read_text())
    folders = sorted(class_map)
    dataset = ClassFolders(images, {f: k for k, f in enumerate(folders)}, transform,
                           _open_cropped if crop_border else open_rgb)
    dataset.imagenet_indices = [list(class_map[f]) for f in folders]
    return dataset
