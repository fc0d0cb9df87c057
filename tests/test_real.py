"""Real-data loaders read tiny fixtures written here, and fail clearly on missing or malformed data."""

import json
import tarfile
import warnings

import pytest
import torch
from real_fixtures import COLOURS, jpeg, objectnet_release
from torch.utils.data import DataLoader
from torchvision.transforms.functional import pil_to_tensor

from clipbook.data.imagenet import imagenet_classnames, imagenet_variant, imagenet_wnids, objectnet
from clipbook.data.real import ImageTextDataset, csv_dataset, imagenet_captions, webdataset_pairs


def _mean_colour(image):
    return pil_to_tensor(image).float().mean((1, 2))


def _is(image, colour):
    return torch.allclose(_mean_colour(image), torch.tensor(colour, dtype=torch.float), atol=8)


# ---------------------------------------------------------------- CSV / TSV

@pytest.fixture
def caption_table(tmp_path):
    for i, colour in enumerate(COLOURS):
        jpeg(tmp_path / "images" / f"{i}.jpg", colour)
    rows = [f"images/{i}.jpg,a picture number {i},{i % 2}" for i in range(len(COLOURS))]
    path = tmp_path / "pairs.csv"
    path.write_text("filepath,caption,label\n" + "\n".join(rows) + "\n")
    return path


def test_csv_pairs_load_in_order(caption_table):
    dataset = csv_dataset(caption_table)
    assert isinstance(dataset, ImageTextDataset) and len(dataset) == len(COLOURS)
    for i, colour in enumerate(COLOURS):
        image, caption = dataset[i]
        assert image.size == (20, 16) and _is(image, colour) and caption == f"a picture number {i}"
    labels = csv_dataset(caption_table, target="label")
    assert [labels[i][1] for i in range(4)] == [0, 1, 0, 1]


def test_csv_transforms_apply_and_batch(caption_table):
    dataset = csv_dataset(caption_table, transform=pil_to_tensor, text_transform=str.upper)
    images, captions = next(iter(DataLoader(dataset, batch_size=4)))
    assert images.shape == (4, 3, 16, 20) and captions[0] == "A PICTURE NUMBER 0"


def test_tsv_and_absolute_paths(tmp_path, caption_table):
    image = (tmp_path / "images" / "2.jpg").resolve()
    path = tmp_path / "elsewhere" / "pairs.tsv"
    path.parent.mkdir()
    path.write_text(f"filepath\tcaption\n{image}\tblue, with a comma\n")
    dataset = csv_dataset(path)
    assert dataset[0][1] == "blue, with a comma" and _is(dataset[0][0], COLOURS[2])
    with pytest.raises(ValueError, match="needs labels"):
        csv_dataset(path, target="label")


@pytest.mark.parametrize("text,message", [
    ("path,text\nimages/0.jpg,red\n", "missing filepath, caption"),
    ("filepath,caption\n\"images/0.jpg,red\n", "could not be parsed"),
    ("", "could not be parsed"),
    ("filepath,caption\nimages/0.jpg,\n", "empty value"),
    ("filepath,caption,label\nimages/0.jpg,red,cat\n", "integer class labels"),
])
def test_malformed_tables_are_clear_errors(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as error:
        csv_dataset(path)
    assert "bad.csv" in str(error.value)
    if "missing" in message:
        assert "expected a CSV with columns filepath, caption" in str(error.value)


def test_missing_table_says_what_to_provide(tmp_path):
    with pytest.raises(FileNotFoundError, match="open_clip's format") as error:
        csv_dataset(tmp_path / "nope.csv")
    assert "nope.csv" in str(error.value) and "never downloads" in str(error.value)


# ---------------------------------------------------------------- webdataset shards

@pytest.fixture
def shards(tmp_path):
    folder = tmp_path / "shards"
    folder.mkdir()
    for shard in range(2):
        with tarfile.open(folder / f"shard-{shard:03d}.tar", "w") as tar:
            for i in range(2):
                key = f"{shard}{i:04d}"
                image = jpeg(tmp_path / "raw" / f"{key}.jpg", COLOURS[2 * shard + i])
                text = tmp_path / "raw" / f"{key}.txt"
                text.write_text(f"caption {key}")
                tar.add(image, arcname=f"{key}.jpg")
                tar.add(text, arcname=f"{key}.txt")
    return folder


@pytest.mark.parametrize("use_webdataset", [True, False])
def test_shards_stream_pairs_in_order(shards, use_webdataset):
    samples = list(webdataset_pairs(shards, use_webdataset=use_webdataset))
    assert [caption for _, caption in samples] == ["caption 00000", "caption 00001", "caption 10000", "caption 10001"]
    assert all(_is(image, colour) for (image, _), colour in zip(samples, COLOURS))


@pytest.mark.parametrize("use_webdataset", [True, False])
def test_shard_patterns_and_transforms(shards, use_webdataset):
    pattern = str(shards / "shard-{000..001}.tar")
    samples = list(webdataset_pairs(pattern, transform=pil_to_tensor, text_transform=len,
                                    use_webdataset=use_webdataset))
    assert len(samples) == 4 and samples[0][0].shape == (3, 16, 20) and samples[0][1] == len("caption 00000")
    assert len(list(webdataset_pairs([shards / "shard-001.tar"], use_webdataset=use_webdataset))) == 2


def test_missing_shards_say_what_to_provide(tmp_path):
    with pytest.raises(FileNotFoundError, match="webdataset shards not found") as error:
        webdataset_pairs(tmp_path / "none-{000..009}.tar")
    assert "MSCOCO, CC3M or LAION" in str(error.value) and "`shards`" in str(error.value)


# ---------------------------------------------------------------- ImageNet-style folders

def test_imagenet_metadata_is_the_standard_order():
    wnids = imagenet_wnids()
    assert len(wnids) == 1000 and wnids[0] == "n01440764" and list(wnids) == sorted(wnids)
    assert imagenet_classnames()[0] == "tench"


@pytest.mark.parametrize("name", ["imagenet", "imagenet_sketch", "imagenet_r", "imagenet_a"])
def test_wnid_folders_get_imagenet_labels(tmp_path, name):
    wnids = imagenet_wnids()
    for wnid, colour in ((wnids[999], COLOURS[0]), (wnids[1], COLOURS[1]), (wnids[500], COLOURS[2])):
        jpeg(tmp_path / wnid / "a.JPEG", colour)
    dataset = imagenet_variant(name, tmp_path)
    assert sorted(dataset.targets) == [1, 500, 999]  # ImageNet-1k indices, not positions 0..2
    assert dataset.class_indices == [1, 500, 999]  # a 200-class set says which logits to keep
    assert dataset.classnames == [imagenet_classnames()[i] for i in (1, 500, 999)]
    image, label = dataset[dataset.targets.index(999)]
    assert label == 999 and _is(image, COLOURS[0])


def test_imagenet_v2_folders_are_class_indices(tmp_path):
    for folder in ("0", "2", "10"):
        jpeg(tmp_path / folder / "x.jpeg", COLOURS[0])
    dataset = imagenet_variant("imagenet_v2", tmp_path, transform=pil_to_tensor)
    assert sorted(dataset.targets) == [0, 2, 10]  # folder "10" is class 10, not the 2nd in sorted order
    assert dataset[0][0].shape == (3, 16, 20)


def test_wrong_layout_and_missing_folders_are_clear_errors(tmp_path):
    jpeg(tmp_path / "cats" / "x.jpg", COLOURS[0])
    with pytest.raises(ValueError, match="unexpected class folders"):
        imagenet_variant("imagenet_r", tmp_path)
    with pytest.raises(FileNotFoundError, match="ImageNet-Sketch not found") as error:
        imagenet_variant("imagenet_sketch", tmp_path / "sketch")
    assert "github.com/HaohanWang/ImageNet-Sketch" in str(error.value) and "`root`" in str(error.value)
    with pytest.raises(ValueError, match="unknown ImageNet variant"):
        imagenet_variant("imagenet_z", tmp_path)


def test_objectnet_keeps_the_imagenet_classes(tmp_path):
    objectnet_release(tmp_path)
    dataset = objectnet(tmp_path)
    assert len(dataset) == 2 and dataset.classes == ["banana", "chair"]
    assert dataset.imagenet_indices == [[954], [559, 765]]
    image, label = dataset[1]
    assert label == 1 and image.size == (20, 20) and _is(image, COLOURS[0])  # 2 px border cropped
    assert objectnet(tmp_path / "images", {"sock": [806]}, crop_border=False)[0][0].size == (24, 24)
    with pytest.raises(FileNotFoundError, match="objectnet.dev"):
        objectnet(tmp_path / "missing")


# ---------------------------------------------------------------- ImageNet-Captions

def test_imagenet_captions_join_records_to_the_training_images(tmp_path):
    wnids = imagenet_wnids()
    train = tmp_path / "train"
    jpeg(train / wnids[3] / f"{wnids[3]}_1.JPEG", COLOURS[0])
    jpeg(train / wnids[7] / f"{wnids[7]}_2.JPEG", COLOURS[1])
    records = [
        {"filename": f"{wnids[3]}_1.JPEG", "wnid": wnids[3], "title": "Shark!", "description": "at the aquarium",
         "tags": ["fish", "blue"]},
        {"filename": f"{wnids[7]}_2.JPEG", "wnid": wnids[7], "title": "hen", "description": "", "tags": []},
        {"filename": f"{wnids[7]}_9.JPEG", "wnid": wnids[7], "title": "gone", "description": "", "tags": []},
    ]
    path = tmp_path / "imagenet_captions.json"
    path.write_text(json.dumps(records))
    with pytest.warns(UserWarning, match="1 of 3"):
        dataset = imagenet_captions(path, train)
    assert len(dataset) == 2
    image, caption = dataset[0]
    assert caption == "Shark! at the aquarium fish blue" and _is(image, COLOURS[0])
    assert dataset[1][1] == "hen"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        titles = imagenet_captions(path, train, fields=("title",), target="label")
        assert imagenet_captions(path, train, fields=("tags",))[0][1] == "fish blue"
    assert [titles[i][1] for i in range(2)] == [3, 7]


def test_imagenet_captions_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="mlfoundations/imagenet-captions"):
        imagenet_captions(tmp_path / "imagenet_captions.json", tmp_path)
    path = tmp_path / "captions.json"
    path.write_text(json.dumps([{"filename": "x.JPEG", "wnid": imagenet_wnids()[0], "title": "t"}]))
    with pytest.raises(FileNotFoundError, match="ImageNet training set not found"):
        imagenet_captions(path, tmp_path / "train")
    with pytest.raises(ValueError, match="description"):
        imagenet_captions(path, tmp_path)
    with pytest.raises(FileNotFoundError, match="`train_root`"):
        imagenet_captions(path, tmp_path, fields=("title",))
