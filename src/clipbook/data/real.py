"""Real image-caption pairs a user points the book at (the GPU "paper" profile): open_clip's
CSV/TSV format, ImageNet-Captions, and webdataset shards of MSCOCO / CC3M / LAION subsets.

Every loader returns a torch ``Dataset`` yielding ``(image, caption)`` or ``(image, label)``;
images are PIL images unless a ``transform`` is given. ImageNet-style test sets are in
:mod:`clipbook.data.imagenet`; what each data set is and where it comes from, in
:mod:`clipbook.data.sources`.
"""

from __future__ import annotations

import glob
import io
import json
import os
import tarfile
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from PIL import Image
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from clipbook.data.imagenet import imagenet_wnids
from clipbook.data.sources import missing, open_rgb, require

Target = Literal["caption", "label"]


def _identity(x):
    return x


def _rgb_then(transform: Callable, image: Image.Image):
    return transform(image.convert("RGB"))


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


def _read_table(path: Path, sep: str, columns: Sequence[str], nrows: int | None = None) -> pd.DataFrame:
    """A CSV/TSV with the given required columns (its first ``nrows`` rows, or all), or a
    ValueError that names them and the file."""
    kind = "TSV" if sep == "\t" else "CSV"
    expected = f"expected a {kind} with columns {', '.join(columns)}"
    try:
        table = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, nrows=nrows)
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


def check_pairs_csv(path: str | os.PathLike, img_key: str = "filepath", caption_key: str = "caption",
                    rows: int = 1000) -> Path:
    """Before any compute: the file exists, has the columns, and its first ``rows`` rows name images
    that exist (relative paths against the table's folder); a ValueError names what is wrong."""
    path = require(path, "csv", "path")
    table = _read_table(path, "\t" if path.suffix.lower() == ".tsv" else ",", (img_key, caption_key), nrows=rows)
    missing = [p for p in table[img_key] if not (path.parent / p).is_file()]
    if missing:
        raise ValueError(f"{path}: {len(missing)} of its first {len(table)} images do not exist, e.g. {missing[0]}")
    return path


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
    path = require(captions_json, "imagenet_captions", "captions_json")
    try:
        records = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        where = f" (line {err.lineno}, column {err.colno})" if isinstance(err, json.JSONDecodeError) else ""
        raise ValueError(f"{path}: not valid JSON{where}; expected ImageNet-Captions' list of records") from None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ValueError(f"{path}: expected ImageNet-Captions' list of records (objects), got {type(records).__name__}")
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
