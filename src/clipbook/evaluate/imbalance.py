"""Imbalance metrics, for Chapter 6 (Wen et al., NeurIPS 2024) and for readers' own models.

- :func:`frequency_correlations`: how much a model's per-class accuracy and its prediction
  counts follow the training frequency of the classes (Spearman's rho; 0 is unbiased);
- :func:`neural_collapse`: NC1 (within-class variability relative to the between-class spread)
  and NC2 (how far the centred class means are from a simplex equiangular frame), as Wen et al.
  define them after Papyan et al. (2020); :func:`equiangularity` is NC2 of any set of vectors
  (e.g. a classifier's rows or a zero-shot head).
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
from scipy import stats


class FrequencyCorrelations(NamedTuple):
    accuracy: float  # Spearman rho of per-class accuracy with class frequency
    predictions: float  # Spearman rho of the number of test samples predicted as each class with its frequency


def confusion_matrix(labels, predictions, n_classes: int) -> np.ndarray:
    """``[K, K]`` counts: row ``i``, column ``j`` = samples of class ``i`` predicted as ``j``."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    return np.bincount(labels * n_classes + predictions, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def frequency_correlations(confusion, frequencies) -> FrequencyCorrelations:
    """Spearman rho of per-class accuracy (``confusion[i, i] / sum_j confusion[i, j]``) and of
    prediction counts (``sum_i confusion[i, j]``) with the classes' training ``frequencies``.
    Classes without test samples are left out of the accuracy correlation; a constant accuracy
    (or constant counts) has no correlation and gives NaN."""
    confusion, frequencies = np.asarray(confusion, dtype=float), np.asarray(frequencies, dtype=float)
    if confusion.ndim != 2 or confusion.shape[0] != confusion.shape[1] or len(frequencies) != len(confusion):
        raise ValueError(f"confusion must be [K, K] and frequencies [K], got {confusion.shape} and {frequencies.shape}")
    support = confusion.sum(axis=1)
    tested = support > 0
    accuracy = np.diag(confusion)[tested] / support[tested]
    with warnings.catch_warnings():  # a constant has no correlation: NaN
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        rho_accuracy = stats.spearmanr(frequencies[tested], accuracy).statistic
        rho_predictions = stats.spearmanr(frequencies, confusion.sum(axis=0)).statistic
    return FrequencyCorrelations(float(rho_accuracy), float(rho_predictions))


class NeuralCollapse(NamedTuple):
    nc1: float  # trace(Sigma_W Sigma_B^+) / K: 0 when every feature sits on its class mean
    nc2: float  # mean |cos + 1 / (K - 1)| over pairs of centred class means: 0 for a simplex ETF


def equiangularity(vectors) -> float:
    """NC2 of ``[K, d]`` vectors: centred on their mean, the mean over pairs ``i != j`` of
    ``|cos(v_i, v_j) + 1 / (K - 1)|`` (every pair at the simplex angle gives 0)."""
    v = np.asarray(vectors, dtype=float)
    k = len(v)
    if k < 2:
        raise ValueError("equiangularity needs at least two vectors")
    centred = v - v.mean(axis=0)
    unit = centred / np.linalg.norm(centred, axis=1, keepdims=True)
    cos = unit @ unit.T
    off = ~np.eye(k, dtype=bool)
    return float(np.abs(cos[off] + 1 / (k - 1)).mean())


def neural_collapse(features, labels) -> NeuralCollapse:
    """NC1 and NC2 of ``[n, d]`` features with integer ``labels`` (every class present at least once).

    ``Sigma_W`` is the within-class scatter divided by the number of samples, ``Sigma_B`` the
    covariance of the class means around the global mean (classes weighted equally), ``+`` the
    Moore-Penrose pseudo-inverse.
    """
    h, y = np.asarray(features, dtype=float), np.asarray(labels)
    classes = np.unique(y)
    if len(classes) < 2 or len(h) != len(y):
        raise ValueError("neural_collapse needs [n, d] features and n labels of at least two classes")
    means = np.stack([h[y == c].mean(axis=0) for c in classes])
    centred = h - means[np.searchsorted(classes, y)]
    sigma_w = centred.T @ centred / len(h)
    between = means - means.mean(axis=0)
    sigma_b = between.T @ between / len(classes)
    nc1 = float(np.trace(sigma_w @ np.linalg.pinv(sigma_b)) / len(classes))
    return NeuralCollapse(nc1, equiangularity(means))
