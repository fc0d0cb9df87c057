"""Tiny real-data fixtures the tests write themselves: JPEG files in the layouts the loaders read."""

import json

import numpy as np
from PIL import Image

from clipbook.data.imagenet import imagenet_wnids
from clipbook.experiments.diversity_real import LAYOUT

COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]


def jpeg(path, colour, size=(20, 16)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path, quality=95)
    return path


def objectnet_release(root, colours=(COLOURS[3], COLOURS[0], COLOURS[1]), per_class=1):
    """The layout of objectnet-1.0: images/<folder>/*.png and the mappings/ files.

    Folders banana, chair and sock; banana is ImageNet class 954, chair pools 559 and 765, and
    socks are not an ImageNet class (so ObjectNet keeps two of the three)."""
    for folder, colour in zip(("banana", "chair", "sock"), colours):
        for i in range(per_class):
            jpeg(root / "images" / folder / f"{i + 1}.png", colour, size=(24, 24))
    mappings = root / "mappings"
    mappings.mkdir()
    (mappings / "folder_to_objectnet_label.json").write_text(json.dumps(
        {"banana": "Banana", "chair": "Chair", "sock": "Sock"}))
    (mappings / "objectnet_to_imagenet_1k.json").write_text(json.dumps(
        {"Banana": "banana", "Chair": "folding chair; rocking chair"}))
    (mappings / "imagenet_to_label_2012_v2").write_text("banana\nfolding chair\nrocking chair\n")
    (mappings / "pytorch_to_imagenet_2012_id.json").write_text(json.dumps({"954": 0, "559": 1, "765": 2}))


CLASSES = (954, 559, 765)  # banana, folding chair, rocking chair: the classes of the ObjectNet fixture


def _images(folder_of, root, per_class, rng, size=(32, 32)):
    """``per_class`` noisy single-colour JPEGs per class under ``root/<folder_of(class)>/``."""
    for k, index in enumerate(CLASSES):
        for i in range(per_class):
            colour = tuple(int(c) for c in np.clip(np.array(COLOURS[k]) + rng.integers(-40, 40, 3), 0, 255))
            jpeg(root / folder_of(index) / f"{folder_of(index)}_{i}.JPEG", colour, size=size)


def imagenet_like(root):
    """Every data set of Chapter 4's real-data layout under ``root``, a few images of three classes each."""
    rng, wnids = np.random.default_rng(0), imagenet_wnids()
    _images(wnids.__getitem__, root / LAYOUT["imagenet_train"], 16, rng)
    records = [{"filename": f"{wnids[i]}_{n}.JPEG", "wnid": wnids[i], "title": f"my {['red', 'green', 'blue'][k]} thing",
                "description": "" if n == 0 else "seen today", "tags": []}
               for k, i in enumerate(CLASSES) for n in range(16)]
    records[0]["title"] = ""  # one image with no text at all
    (root / LAYOUT["imagenet_captions"]).write_text(json.dumps(records))
    for name in ("imagenet", "imagenet_sketch", "imagenet_r", "imagenet_a"):
        _images(wnids.__getitem__, root / LAYOUT[name], 3, rng)
    _images(str, root / LAYOUT["imagenet_v2"], 3, rng)
    objectnet_release(root / LAYOUT["objectnet"], per_class=3)
