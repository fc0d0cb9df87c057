"""The supervised loop for real image files: it learns, resumes exactly, and predicts in order."""

import shutil

import torch
from torch import nn
from torch.utils.data import Dataset

from clipbook.evaluate.imagenet import predict
from clipbook.training.image_files import epoch_checkpoints, train_classifier


class NoisyBlobs(Dataset):
    """Two separable classes of 8-d points; every read adds fresh noise, like random augmentation."""

    def __init__(self, n=64):
        self.labels = torch.arange(n) % 2
        self.centres = torch.where(self.labels[:, None] == 1, 1.0, -1.0) * torch.ones(n, 8)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.centres[i] + 0.3 * torch.randn(8), int(self.labels[i])


def _weights(path):
    return torch.load(path, weights_only=True)["state_dict"]


def test_training_learns_and_a_resumed_run_matches_an_uninterrupted_one(tmp_path):
    data = NoisyBlobs()
    settings = dict(epochs=3, batch_size=16, lr=0.05, workers=0, seed=1, device=torch.device("cpu"))
    torch.manual_seed(0)
    full = train_classifier(nn.Linear(8, 2), data, tmp_path / "full", **settings)
    assert list(full) == [1, 2, 3]
    shutil.copytree(tmp_path / "full", tmp_path / "resumed")
    (tmp_path / "resumed" / "epoch_3.pt").unlink()
    torch.manual_seed(123)  # a different process state: the run must not depend on it
    resumed = train_classifier(nn.Linear(8, 2), data, tmp_path / "resumed", **settings)
    for name, value in _weights(full[3]).items():
        assert torch.equal(value, _weights(resumed[3])[name]), name
    model = nn.Linear(8, 2)
    model.load_state_dict(_weights(full[3]))
    logits, labels = predict(model, data, batch_size=10, workers=0, device=torch.device("cpu"))
    assert logits.shape == (64, 2) and torch.equal(labels, data.labels)
    assert (logits.argmax(1) == labels).float().mean() > 0.95


def test_checkpoints_are_listed_by_epoch(tmp_path):
    for name in ("epoch_10.pt", "epoch_2.pt", "epoch_latest.pt", "notes.txt"):
        (tmp_path / name).touch()
    assert list(epoch_checkpoints(tmp_path)) == [2, 10]
