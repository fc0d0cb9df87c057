"""A sweep's bookkeeping: which stacked model is which setting and seed, and what a sweep returns.

Batched sweeps lay their models out setting-major, then seed (the order of
:func:`clipbook.data.latent.per_seed_draws`): model ``m`` is setting ``m // n_seeds`` at seed
``seeds[m % n_seeds]``. :func:`model_table` writes that map down once for every chapter.
"""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple, Sequence

import pandas as pd


def model_table(settings: Sequence[Mapping[str, Any]], seeds: Sequence[int]) -> pd.DataFrame:
    """One row per stacked model, in sweep order: ``model`` (its index), the setting's fields, ``seed``."""
    rows = [dict(setting) | {"seed": seed} for setting in settings for seed in seeds]
    return pd.DataFrame(rows).rename_axis("model").reset_index()


class Sweep(NamedTuple):
    """What a chapter's sweep returns: one row per model (or checkpoint), and the time it took."""

    results: pd.DataFrame
    seconds: float
    history: pd.DataFrame | None = None  # long format (step, model, metric, value), where a chapter keeps it
