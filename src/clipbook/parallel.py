"""Independent models side by side, so that a CPU's every core trains one.

A tiny tower's training step is a chain of small ops that a second torch thread barely speeds
up (about 1.2 times on 2 cores). Two models, each on one thread, train at nearly twice the rate,
as torch releases the GIL inside its kernels: four tiny-vit CLIPs train 1.8 times as fast side by
side on 2 cores (``python -m clipbook bench --only side_by_side_training``). So on a CPU
:func:`map_jobs` runs a sweep's jobs in a pool of as many Python threads as torch has CPU
threads, each job on one torch thread; on a GPU, or with one thread (``OMP_NUM_THREADS=1``), it
runs them one after another.

A job must not touch shared state: the models' initializers, the one user of torch's global
RNG, are serialized by :func:`clipbook.models.towers.seeded`. A job's numbers do not depend on
the pool: each runs on one thread, in its own order of operations.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, TypeVar

import torch

from clipbook.device import num_threads
from clipbook.progress import progress, quiet

Job = TypeVar("Job")
Result = TypeVar("Result")


def workers(device: torch.device) -> int:
    """How many jobs run at once: torch's CPU threads on a CPU, one on any other device."""
    return torch.get_num_threads() if device.type == "cpu" else 1


def map_jobs(fn: Callable[[Job], Result], jobs: Iterable[Job], device: torch.device, *, desc: str = "models",
             unit: str = "model") -> list[Result]:
    """``[fn(job) for job in jobs]``, in order, :func:`workers` jobs at a time; one progress bar
    over the jobs (the jobs' own bars are silenced when they run side by side)."""
    jobs = list(jobs)
    n = min(workers(device), len(jobs))
    if n <= 1:
        return [fn(job) for job in progress(jobs, desc=desc, unit=unit)]
    bar = progress(total=len(jobs), desc=desc, unit=unit)
    lock = threading.Lock()

    def run(job: Job) -> Result:
        with quiet():
            result = fn(job)
        with lock:
            bar.update()
        return result

    with num_threads(1), ThreadPoolExecutor(n) as pool:
        results = list(pool.map(run, jobs))
    bar.close()
    return results
