"""Importing clipbook makes torch's OpenMP threads yield soon, so that two runs on one CPU
degrade gracefully (the measurement is in ``clipbook.__doc__``)."""

import os
import subprocess
import sys

PROBE = "import sys, os, clipbook; print(os.environ.get('GOMP_SPINCOUNT'), 'torch' in sys.modules)"


def _probe(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "GOMP_SPINCOUNT"}
    return subprocess.run([sys.executable, "-c", PROBE], env=clean | env, capture_output=True, text=True,
                          check=True).stdout.split()


def test_import_sets_a_short_spin_before_torch_is_loaded():
    # libgomp reads GOMP_SPINCOUNT once, when torch loads it: the package must not import torch first
    assert _probe() == ["1000", "False"]


def test_a_spin_count_the_reader_set_wins():
    assert _probe(GOMP_SPINCOUNT="50000") == ["50000", "False"]
