"""Loaders for real data a user points the book at (the GPU "paper" profile).

Image-caption pairs (open_clip's CSV/TSV format, webdataset shards of MSCOCO / CC3M / LAION
subsets, ImageNet-Captions) and ImageNet-style test sets (ImageNet val, ImageNetV2,
ImageNet-Sketch, -R, -A, ObjectNet). Every loader returns a torch ``Dataset`` yielding
``(image, caption)`` or ``(image, label)``; images are PIL images unless a ``transform`` is given.

Labels of the ImageNet variants are ImageNet-1k indices (sorted WordNet ids, the order of
``open_clip.IMAGENET_CLASSNAMES``), so one zero-shot head serves all of them; the 200-class
sets (-R, -A) say which classes they hold in ``class_indices``, to mask the other 800 logits.

Nothing is ever downloaded: a missing path is a ``FileNotFoundError`` that names the data set,
where it comes from, and which argument to pass its location as.
"""

from __future__ import annotations

import glob
import io
import json
import os
import tarfile
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cache, partial
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from PIL import Image
from torch.utils.data import Dataset, IterableDataset, get_worker_info
from torchvision.datasets import ImageFolder

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
    "imagenet_captions": ("ImageNet-Captions",
                          "imagenet_captions.json from github.com/mlfoundations/imagenet-captions"),
}
"""Data set key -> (name, what to download and how it must be laid out)."""

Target = Literal["caption", "label"]


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


def _identity(x):
    return x


def _rgb_then(transform: Callable, image: Image.Image):
    return transform(image.convert("RGB"))


def _open_cropped(path: str) -> Image.Image:
    """ObjectNet images carry a thin red frame; the usual evaluation crops 2 px off each side."""
    image = open_rgb(path)
    return image.crop((2, 2, image.width - 2, image.height - 2))


# ---------------------------------------------------------------- image-caption pairs

class ImageTextDataset(Dataset):
    """Image files with a caption (and maybe a class label) each; yields ``(image, caption)``
    or, with ``target="label"``, ``(image, label)``."""

    def __init__(self, paths: Sequence[Path], captions: Sequence[str], labels: Sequence[int] | None = None,
                 transform: Callable | None = None, text_transform: Callable | None = None,
                 target: Target = "caption"):
        if target not in ("caption", "label"):
            raise ValueError(f"target must be 'caption' or 'label', got {target!r}")
        if target == "label" and labels is None:
            raise ValueError("target='label' needs labels, and this data set has none")
        self.paths, self.captions, self.labels = list(paths), list(captions), labels
        self.transform, self.text_transform, self.target = transform or _identity, text_transform or _identity, target

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image = self.transform(open_rgb(self.paths[index]))
        if self.target == "label":
            return image, int(self.labels[index])
        return image, self.text_transform(self.captions[index])


def _read_table(path: Path, sep: str, columns: Sequence[str]) -> pd.DataFrame:
    """A CSV/TSV with the given required columns, or a ValueError that names them and the file."""
    kind = "TSV" if sep == "\t" else "CSV"
    expected = f"expected a {kind} with columns {', '.join(columns)}"
    try:
        table = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: {expected}, but it could not be parsed ({err})") from err
    missing = [c for c in columns if c not in table.columns]
    if missing:
        found = ", ".join(map(str, table.columns))
        raise ValueError(f"{path}: {expected}; missing {', '.join(missing)} (found {found})")
    empty = table.index[(table[list(columns)] == "").any(axis=1)].tolist()
    if empty:
        raise ValueError(f"{path}: {expected}; rows {empty[:5]} have an empty value")
    return table


def csv_dataset(path: str | os.PathLike, root: str | os.PathLike | None = None, img_key: str = "filepath",
                caption_key: str = "caption", label_key: str = "label", sep: str | None = None,
                transform: Callable | None = None, text_transform: Callable | None = None,
                target: Target = "caption") -> ImageTextDataset:
    """open_clip's CSV/TSV image-caption format (``--csv-img-key filepath --csv-caption-key caption``).

    Relative file paths are resolved against ``root`` (default: the table's folder); a
    ``label`` column, when present, gives integer class labels. ``sep`` defaults to a tab for
    ``.tsv`` files and a comma otherwise.
    """
    path = require(path, "csv", "path")
    sep = sep or ("\t" if path.suffix.lower() == ".tsv" else ",")
    table = _read_table(path, sep, (img_key, caption_key))
    root = Path(root) if root is not None else path.parent
    labels = None
    if label_key in table.columns:
        labels = pd.to_numeric(table[label_key], errors="coerce")
        if labels.isna().any() or (labels % 1 != 0).any():
            raise ValueError(f"{path}: column {label_key!r} must hold integer class labels")
        labels = labels.astype(int).tolist()
    return ImageTextDataset([root / p for p in table[img_key]], table[caption_key].tolist(), labels,
                            transform, text_transform, target)


def imagenet_captions(captions_json: str | os.PathLike, train_root: str | os.PathLike,
                      fields: Sequence[str] = ("title", "description", "tags"), transform: Callable | None = None,
                      text_transform: Callable | None = None, target: Target = "caption") -> ImageTextDataset:
    """ImageNet-Captions (Fang et al. 2022): Flickr title, description and tags of ImageNet
    training images, joined to the images in ``train_root/<wnid>/<filename>``.

    ``fields`` picks the text a caption is made of (Fang et al. compare them). Records whose
    image is not under ``train_root`` are left out with a warning (a partial ImageNet copy
    still works); labels are ImageNet-1k indices.
    """
    records = json.loads(require(captions_json, "imagenet_captions", "captions_json").read_text())
    train_root = require(train_root, "imagenet_train", "train_root")
    required = {"filename", "wnid", *fields}
    bad = next((r for r in records if not required <= set(r)), None)
    if bad is not None:
        raise ValueError(f"{captions_json}: every record needs {sorted(required)}; found one with {sorted(bad)}")
    index = {wnid: i for i, wnid in enumerate(imagenet_wnids())}
    unknown = {r["wnid"] for r in records} - set(index)
    if unknown:
        raise ValueError(f"{captions_json}: WordNet ids {sorted(unknown)[:5]} are not ImageNet-1k classes")
    rows = [(train_root / r["wnid"] / r["filename"], _caption_of(r, fields), index[r["wnid"]]) for r in records]
    present = [row for row in rows if row[0].is_file()]
    if not present:
        raise FileNotFoundError(f"none of the {len(rows)} ImageNet-Captions images is under {train_root}: "
                                f"pass the ImageNet training folder (one folder per WordNet id) as `train_root`")
    if len(present) < len(rows):
        warnings.warn(f"{len(rows) - len(present)} of {len(rows)} ImageNet-Captions images are missing under "
                      f"{train_root}; using the {len(present)} present", stacklevel=2)
    paths, captions, labels = zip(*present)
    return ImageTextDataset(paths, captions, labels, transform, text_transform, target)


def _caption_of(record: Mapping[str, Any], fields: Sequence[str]) -> str:
    """The chosen text fields of a record, in order, as one caption (tags joined by spaces)."""
    parts = [" ".join(record[f]) if isinstance(record[f], list) else str(record[f] or "") for f in fields]
    return " ".join(p.strip() for p in parts if p.strip())


def _expand_braces(pattern: str) -> list[str]:
    """``shard-{000..009}.tar`` -> ten names (braceexpand ships with webdataset; without it, as is)."""
    try:
        from braceexpand import braceexpand
    except ImportError:
        return [pattern]
    return list(braceexpand(pattern))


def shard_paths(shards: str | os.PathLike | Sequence[str | os.PathLike]) -> list[str]:
    """Shard files from a folder (every .tar in it), a glob, a brace pattern, or a list of them."""
    if isinstance(shards, (str, os.PathLike)):
        shards = [shards]
    paths = []
    for spec in map(str, shards):
        if os.path.isdir(spec):
            paths.extend(sorted(glob.glob(os.path.join(spec, "*.tar"))))
        else:
            paths.extend(sorted(p for pattern in _expand_braces(spec) for p in glob.glob(pattern)))
    if not paths:
        raise missing(", ".join(map(str, shards)), "webdataset", "shards")
    return paths


def webdataset_pairs(shards: str | os.PathLike | Sequence[str | os.PathLike], transform: Callable | None = None,
                     text_transform: Callable | None = None, image_key: str = "jpg;jpeg;png;webp",
                     text_key: str = "txt", use_webdataset: bool | None = None) -> IterableDataset:
    """(image, caption) pairs streamed from webdataset shards, in shard order: the real image-text
    sets (MSCOCO, CC3M, LAION subsets) of the real-data experiments planned for Chapters 2 and 6.

    Uses the ``webdataset`` package when it imports (``use_webdataset=None``), else reads the
    tar files with the standard library; both split the shards across DataLoader workers.
    """
    paths = shard_paths(shards)
    transform, text_transform = transform or _identity, text_transform or _identity
    if use_webdataset is None:
        try:
            import webdataset  # noqa: F401
            use_webdataset = True
        except ImportError:
            use_webdataset = False
    if use_webdataset:
        import webdataset as wds

        return (wds.WebDataset(paths, shardshuffle=False, empty_check=False).decode("pil")
                .to_tuple(image_key, text_key).map_tuple(partial(_rgb_then, transform), text_transform))
    return TarPairs(paths, transform, text_transform, tuple(image_key.split(";")), text_key)


class TarPairs(IterableDataset):
    """The standard-library reader of webdataset shards: files sharing a key form a sample."""

    def __init__(self, paths: Sequence[str], transform: Callable = _identity, text_transform: Callable = _identity,
                 image_exts: Sequence[str] = ("jpg", "jpeg", "png", "webp"), text_ext: str = "txt"):
        self.paths, self.transform, self.text_transform = list(paths), transform, text_transform
        self.image_exts, self.text_ext = tuple(image_exts), text_ext

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        worker = get_worker_info()
        paths = self.paths if worker is None else self.paths[worker.id::worker.num_workers]
        for path in paths:
            for sample in _tar_samples(path):
                image_ext = next((e for e in self.image_exts if e in sample), None)
                if image_ext is not None and self.text_ext in sample:
                    image = Image.open(io.BytesIO(sample[image_ext])).convert("RGB")
                    yield self.transform(image), self.text_transform(sample[self.text_ext].decode("utf-8"))


def _tar_samples(path: str) -> Iterator[dict[str, bytes]]:
    """Consecutive tar members with one key (path up to the first dot of the file name), as {extension: bytes}."""
    key, sample = None, {}
    with tarfile.open(path) as tar:
        for member in tar:
            if not member.isfile():
                continue
            folder, name = os.path.split(member.name)
            stem, _, ext = name.partition(".")
            if (folder, stem) != key and sample:
                yield sample
                sample = {}
            key = (folder, stem)
            sample[ext.lower()] = tar.extractfile(member).read()
    if sample:
        yield sample


# ---------------------------------------------------------------- ImageNet-style test sets

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
