"""Tiny real-data fixtures the tests write themselves: JPEG files in the layouts the loaders read."""

import json

from PIL import Image

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
