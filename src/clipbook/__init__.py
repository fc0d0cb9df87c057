"""clipbook: the library behind *Why CLIP generalizes*.

Chapters (``notebooks/``) stay thin and call into this package; everything a chapter computes
lives here, with a unit test.

Importing the package (before torch) sets two things for torch's CPU libraries, unless already set;
child processes (papermill kernels, ``open_clip_train``) inherit both:

- ``GOMP_SPINCOUNT``: how long torch's idle OpenMP threads spin before they sleep. By default they
  spin for ~300,000 turns, which on a shared CPU burns the cores another process needs: two
  chapter runs side by side on 2 cores each took 10 times as long as one alone (Chapter 5's smoke
  profile: 224 s vs 22 s). At 30,000 turns the pair takes 60 s (25 s alone), and a step on both
  cores keeps its speed; 1,000 turns, the earlier setting, gave the pair 67 s but cost a training
  step on two threads up to 30% (tiny-vit-bpe at batch 128: 2,300 instead of 3,100 samples/s; 8%
  for Chapter 1's sweep); ``OMP_WAIT_POLICY=PASSIVE`` degraded a pair least (47 s) but cost up to
  23% alone.
- ``MKL_CBWR``: MKL's code branch for matrix products. By default MKL picks its branch by CPU
  vendor as well as instruction set, so the same seeds trained on an Intel and an AMD machine
  drift apart by rounding, and a verdict near its bound can differ (Chapter 4's claims b and c did,
  between two machines of this project). Pinning the branch to the widest instruction set the CPU
  has (``AVX512`` or ``AVX2``) asks MKL for the same numbers on every CPU with it; on an Intel
  AVX-512 machine it gives the default's numbers, as fast.
"""

import os
from pathlib import Path


def _mkl_branch(cpuinfo: str) -> str | None:
    """The MKL code branch for a CPU's ``/proc/cpuinfo`` flags (None: leave MKL's choice)."""
    flags = set(next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), []))
    return "AVX512" if "avx512f" in flags else ("AVX2" if "avx2" in flags else None)


os.environ.setdefault("GOMP_SPINCOUNT", "30000")
_CPUINFO = Path("/proc/cpuinfo")
if "MKL_CBWR" not in os.environ and _CPUINFO.exists() and (_branch := _mkl_branch(_CPUINFO.read_text())):
    os.environ["MKL_CBWR"] = _branch

__version__ = "0.1.0"

from clipbook.exports import lazy_exports  # noqa: E402  (after the environment is set)

__getattr__, __all__ = lazy_exports(__name__, {
    "ClaimSet": "clipbook.book.claims", "SUMMARY": "clipbook.book.claims", "check_parameters": "clipbook.book.runner",
    "TrainConfig": "clipbook.training.loop", "ci_table": "clipbook.evaluate.stats", "mean_ci": "clipbook.evaluate.stats",
    "controls": "clipbook.evaluate.controls", "plots": "clipbook.plots", "prose": "clipbook.book.prose",
    "records": "clipbook.book.records", "joint_evidence_table": "clipbook.book.site",
})
"""What every chapter uses: the claims table, parameter checks, the training configuration, tables
with intervals, the instruments' controls, the figures and the numbers its prose cites (and, for
Chapter 7, the answer table with its own run's findings)."""
