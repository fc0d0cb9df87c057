"""Determinism across processes: two fresh interpreters given the same seeds produce
byte-identical data. Within one process a seed derived from Python's ``hash()`` of a string
would pass every test; across processes (``PYTHONHASHSEED`` differs) it would not."""

import hashlib
import os
import subprocess
import sys

SCRIPT = """
import hashlib
import torch
from clipbook.data.compositions import CompositionWorld, training_pairs
from clipbook.data.diversity import DiversityWorld, training_set
from clipbook.data.imbalance import ImbalanceWorld, sample

digest = hashlib.sha256()
pairs = training_pairs(CompositionWorld(n_train=64), 0.75, 0.5, 0.5, seed=3)
digest.update(pairs.images.numpy().tobytes())
digest.update("|".join(pairs.captions).encode())
diverse = training_set(DiversityWorld(n_train=64), 0.5, 1.0, seed=3)
digest.update(diverse.images.numpy().tobytes())
batch = sample(ImbalanceWorld(descriptive=0.5), 3, "train", 500)
for tensor in (batch.x, batch.t, batch.y):
    digest.update(tensor.numpy().tobytes())
print(digest.hexdigest())
"""


def _digest(hash_seed: str) -> str:
    env = os.environ | {"PYTHONHASHSEED": hash_seed, "CLIPBOOK_PROGRESS": "0"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_two_processes_with_different_hash_seeds_draw_identical_data():
    first, second = _digest("1"), _digest("2")
    assert len(first) == 64 and first == second
    assert first != hashlib.sha256(b"").hexdigest()
