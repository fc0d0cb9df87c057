"""The scale-out path: data and model exported for open_clip_train, which trains on them."""

import os
import subprocess

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from clipbook.data.real import csv_dataset, webdataset_pairs
from clipbook.training import launcher
from clipbook.training.launcher import (
    export_csv,
    export_model_config,
    export_webdataset,
    open_clip_train_command,
    read_train_log,
)


def _pairs(n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
    return images, [f"a photo, number {i}, of a \"thing\"" for i in range(n)]


def _as_tensor(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.array(image)).permute(2, 0, 1)


def test_csv_export_round_trips_through_the_books_reader(tmp_path):
    images, captions = _pairs()
    csv = export_csv(images, captions, tmp_path / "data")
    assert list(pd.read_csv(csv, sep=",").columns) == ["filepath", "caption"]
    pairs = list(csv_dataset(csv))
    assert [caption for _, caption in pairs] == captions
    for (image, _), expected in zip(pairs, images):
        assert torch.equal(_as_tensor(image), expected)  # PNG is lossless


@pytest.mark.parametrize("use_webdataset", [False, True])
def test_webdataset_export_round_trips_through_the_books_reader(tmp_path, use_webdataset):
    images, captions = _pairs(5)
    pattern = export_webdataset(images.float() / 255, captions, tmp_path / "shards", shard_size=2)
    assert pattern == str(tmp_path / "shards" / "shard-{00000..00002}.tar")
    assert [p.name for p in sorted((tmp_path / "shards").glob("*"))] == [f"shard-0000{i}.tar" for i in range(3)]
    pairs = list(webdataset_pairs(pattern, use_webdataset=use_webdataset))
    assert [caption for _, caption in pairs] == captions
    for (image, _), expected in zip(pairs, images):
        assert torch.equal(_as_tensor(image), expected)


def test_jpeg_export_stays_close_to_the_images(tmp_path):
    images, captions = _pairs(4)
    pairs = list(webdataset_pairs(export_webdataset(images, captions, tmp_path, image_format="jpg")))
    smooth = torch.nn.functional.avg_pool2d(images.float(), 4)  # JPEG keeps low frequencies
    decoded = torch.nn.functional.avg_pool2d(torch.stack([_as_tensor(i) for i, _ in pairs]).float(), 4)
    assert (decoded - smooth).abs().mean() < 10


def test_word_level_models_are_refused_for_open_clip_train(tmp_path):
    with pytest.raises(ValueError, match="BPE"):
        export_model_config("tiny-vit", tmp_path)


def test_the_command_launches_torchrun_for_several_gpus():
    command = open_clip_train_command("data/train.csv", model="ViT-B-32", logs="logs", name="run", nproc_per_node=4)
    assert command[:5] == ["torchrun", "--nproc_per_node", "4", "-m", "open_clip_train.main"]
    for flag in ("--local-loss", "--gather-with-grad"):
        assert flag in command
    assert command[command.index("--dataset-type") + 1] == "csv"


def test_webdataset_runs_need_a_sample_count_and_a_compatible_webdataset(monkeypatch):
    shards = "shards/shard-{00000..00009}.tar"
    with pytest.raises(ValueError, match="train_num_samples"):
        open_clip_train_command(shards, model="ViT-B-32", logs="logs", name="run")
    monkeypatch.setattr(launcher, "_major_version", lambda package: 0)
    command = open_clip_train_command(shards, model="ViT-B-32", logs="logs", name="run", train_num_samples=10_000)
    assert command[command.index("--train-num-samples") + 1] == "10000"
    assert command[command.index("--dataset-type") + 1] == "webdataset"
    monkeypatch.setattr(launcher, "_major_version", lambda package: 1)
    with pytest.warns(UserWarning, match="webdataset<=0.2.86"):
        open_clip_train_command(shards, model="ViT-B-32", logs="logs", name="run", train_num_samples=10_000)


def test_open_clip_train_trains_a_tiny_model_on_the_export(tmp_path):
    images, captions = _pairs(48)
    command = open_clip_train_command(
        export_csv(images, captions, tmp_path / "data"), model=export_model_config("tiny-vit-bpe", tmp_path / "model"),
        logs=tmp_path / "logs", name="run", batch_size=16, workers=0, precision="fp32", device="cpu",
        extra=["--log-every-n-steps", "1"])
    env = os.environ | {"OMP_NUM_THREADS": "1"}  # a busy CI machine stalls OpenMP threads waiting for each other
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "logs" / "run" / "checkpoints" / "epoch_1.pt").is_file()
    log = read_train_log(tmp_path / "logs" / "run" / "out.log")
    assert log.samples.tolist() == [16, 32, 48]
    assert np.isfinite(log.loss).all() and (log.samples_per_s > 0).all()
