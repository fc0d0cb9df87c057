"""Disentanglement metrics, for Chapter 5 (Abbasi et al., ECCV 2024) and for readers' own embeddings.

Each metric is one pure function of ``codes`` (float array ``[n, d]``: one embedding per row) and
``factors`` (int array ``[n, K]``: the generative factors of each row, e.g. attribute and object)
that returns the raw score as its reference defines it:

- :func:`z_diff`: the beta-VAE metric (Higgins et al., 2017), on pairs drawn from the data set
  with one factor fixed (Carbonneau et al., arXiv 2012.09276): accuracy of a linear classifier
  that names the fixed factor from the mean absolute code difference of a batch of pairs;
- :func:`dci`: disentanglement, completeness and informativeness (Eastwood & Williams, 2018)
  from gradient-boosted trees' feature importances, as disentanglement_lib computes them;
- :func:`mig`: mutual information gap (Chen et al., 2018), normalized by the factor's entropy;
- :func:`sap`: separated attribute predictability (Kumar et al., 2018) with one linear SVM per
  (code, factor), discrete factors;
- :func:`modularity_explicitness`: Ridgeway & Zemel (2018), explicitness as the ROC-AUC of a
  logistic regression on all codes;
- :func:`dcimig`: Sepliarskaia et al. (2019), as Carbonneau et al. state it;
- :func:`rankme`: the effective rank of the codes (Garrido et al., 2023).

Mutual information is in nats, on codes discretized into 20 equal-width bins per dimension
(disentanglement_lib's default histogram discretizer). Metrics that fit a predictor split the
rows into a train and a test part (``test_fraction``, seeded). :func:`rescaled` maps a score
with a chance level (:func:`chance_level`) to 0 at chance and 1 at the maximum.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np
import torch
from scipy import stats
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import mutual_info_score, roc_auc_score
from sklearn.preprocessing import StandardScaler, label_binarize
from sklearn.svm import LinearSVC

from clipbook.evaluate.spectral import effective_rank

N_BINS = 20


# ---------------------------------------------------------------- shared pieces

def _check(codes, factors) -> tuple[np.ndarray, np.ndarray]:
    codes, factors = np.asarray(codes, dtype=float), np.asarray(factors)
    if codes.ndim != 2 or factors.ndim != 2 or len(codes) != len(factors):
        raise ValueError(f"codes must be [n, d] and factors [n, K] with the same n, got {codes.shape} and "
                         f"{factors.shape}")
    if not np.issubdtype(factors.dtype, np.integer):
        raise ValueError("factors must be integer class indices (one column per factor)")
    return codes, factors


def discretize(codes: np.ndarray, n_bins: int = N_BINS) -> np.ndarray:
    """Each code dimension binned into ``n_bins`` equal-width bins over its range (indices 1..n_bins)."""
    return np.stack([np.digitize(c, np.histogram(c, n_bins)[1][:-1]) for c in np.asarray(codes, float).T], axis=1)


def _mutual_information_binned(binned: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """``[d]`` mutual information (nats) of each column of ``binned`` (bins 1..B) with one factor,
    from all the columns' contingency tables at once (one ``bincount``)."""
    _, f = np.unique(factor, return_inverse=True)
    n, d = binned.shape
    n_bins, n_values = binned.max() + 1, f.max() + 1
    cells = (np.arange(d) * n_bins + binned) * n_values + f[:, None]
    joint = np.bincount(cells.ravel(), minlength=d * n_bins * n_values).reshape(d, n_bins, n_values) / n
    outer = joint.sum(axis=2, keepdims=True) * joint.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(joint > 0, joint * np.log(joint / outer), 0.0)
    return np.maximum(terms.sum(axis=(1, 2)), 0.0)


def mutual_information(codes: np.ndarray, factors: np.ndarray, n_bins: int = N_BINS) -> np.ndarray:
    """``[d, K]`` mutual information (nats) between each discretized code dimension and each factor."""
    binned = discretize(codes, n_bins)
    return np.stack([_mutual_information_binned(binned, f) for f in np.asarray(factors).T], axis=1)


def factor_entropy(factors: np.ndarray) -> np.ndarray:
    """``[K]`` entropy (nats) of each factor."""
    return np.array([mutual_info_score(f, f) for f in np.asarray(factors).T])


def _split(n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    order = np.random.default_rng(seed).permutation(n)
    cut = n - max(1, round(n * test_fraction))
    return order[:cut], order[cut:]


# ---------------------------------------------------------------- the metrics

def mig(codes, factors, n_bins: int = N_BINS) -> float:
    """Mean over factors of (largest - second largest MI with a code dimension) / H(factor)."""
    codes, factors = _check(codes, factors)
    top = np.sort(mutual_information(codes, factors, n_bins), axis=0)[::-1]
    return float(np.mean((top[0] - top[1]) / factor_entropy(factors)))


def dcimig(codes, factors, n_bins: int = N_BINS) -> float:
    """Each code dimension scores the gap between its two most informative factors, credited to
    the first; each factor keeps its best credited gap; the sum over factors is divided by the
    sum of the factors' entropies."""
    codes, factors = _check(codes, factors)
    mi = mutual_information(codes, factors, n_bins)  # [d, K]
    ordered = np.sort(mi, axis=1)
    gaps = ordered[:, -1] - (ordered[:, -2] if mi.shape[1] > 1 else 0.0)
    credited = np.zeros_like(mi)
    credited[np.arange(len(mi)), mi.argmax(axis=1)] = gaps
    return float(credited.max(axis=0).sum() / factor_entropy(factors).sum())


class DCI(NamedTuple):
    disentanglement: float
    completeness: float
    informativeness: float  # mean test accuracy of the per-factor predictors


def dci_from_importance(importance: np.ndarray) -> tuple[float, float]:
    """Disentanglement and completeness of a ``[d, K]`` importance matrix (disentanglement_lib's
    formulas: one minus the entropy, in base K or d, of each row or column, weighted by its share)."""
    importance = np.asarray(importance, dtype=float)
    weights = importance if importance.sum() > 0 else np.ones_like(importance)
    per_code = 1.0 - stats.entropy(importance.T + 1e-11, base=importance.shape[1])
    per_factor = 1.0 - stats.entropy(importance + 1e-11, base=importance.shape[0])
    code_share, factor_share = weights.sum(axis=1) / weights.sum(), weights.sum(axis=0) / weights.sum()
    return float(np.sum(per_code * code_share)), float(np.sum(per_factor * factor_share))


def dci(codes, factors, *, test_fraction: float = 0.2, seed: int = 0,
        classifier: Callable[[], object] = GradientBoostingClassifier) -> DCI:
    """DCI with one classifier per factor (gradient-boosted trees, as in disentanglement_lib);
    importances are the classifiers' ``feature_importances_``. A classifier that takes a
    ``random_state`` gets ``seed`` (trees break ties between features at random)."""
    codes, factors = _check(codes, factors)
    train, test = _split(len(codes), test_fraction, seed)
    importance, accuracies = np.zeros((codes.shape[1], factors.shape[1])), []
    for j, factor in enumerate(factors.T):
        model = classifier()
        if "random_state" in model.get_params():
            model.set_params(random_state=seed)
        model.fit(codes[train], factor[train])
        importance[:, j] = np.abs(model.feature_importances_)
        accuracies.append(np.mean(model.predict(codes[test]) == factor[test]))
    return DCI(*dci_from_importance(importance), float(np.mean(accuracies)))


def sap(codes, factors, *, test_fraction: float = 0.2, seed: int = 0) -> float:
    """Mean over factors of the gap between the two code dimensions that alone predict it best
    (test accuracy of a linear SVM, C = 0.01, balanced classes)."""
    codes, factors = _check(codes, factors)
    train, test = _split(len(codes), test_fraction, seed)
    score = np.zeros((codes.shape[1], factors.shape[1]))
    for i, code in enumerate(codes.T):
        for j, factor in enumerate(factors.T):
            svm = LinearSVC(C=0.01, class_weight="balanced").fit(code[train, None], factor[train])
            score[i, j] = np.mean(svm.predict(code[test, None]) == factor[test])
    ordered = np.sort(score, axis=0)
    return float(np.mean(ordered[-1] - ordered[-2]))


class ModularityExplicitness(NamedTuple):
    modularity: float
    explicitness: float  # mean over factors of the test ROC-AUC


def modularity(mi: np.ndarray) -> float:
    """Ridgeway & Zemel's modularity of a ``[d, K]`` mutual-information matrix: per code, one
    minus the squared MI outside its best factor relative to ``(K - 1)`` times the best's; a code
    that carries no information scores 0."""
    squared = np.square(mi)
    best = squared.max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_code = 1.0 - (squared.sum(axis=1) - best) / (best * (mi.shape[1] - 1))
    return float(np.mean(np.where(best == 0, 0.0, per_code)))


def _roc_auc(model: LogisticRegression, codes: np.ndarray, factor: np.ndarray) -> float:
    """Macro ROC-AUC of one-vs-rest class probabilities (disentanglement_lib's explicitness), over
    the classes that occur in the test rows."""
    proba = model.predict_proba(codes)
    if len(model.classes_) == 2:
        return float(roc_auc_score(factor == model.classes_[1], proba[:, 1]))
    truth = label_binarize(factor, classes=model.classes_)
    both = (truth.min(axis=0) == 0) & (truth.max(axis=0) == 1)  # a class absent from the test rows has no AUC
    return float(roc_auc_score(truth[:, both], proba[:, both], average="macro"))


def modularity_explicitness(codes, factors, *, n_bins: int = N_BINS, test_fraction: float = 0.2,
                            seed: int = 0) -> ModularityExplicitness:
    """Modularity on the training rows' mutual information; explicitness from a logistic
    regression per factor on the standardized codes."""
    codes, factors = _check(codes, factors)
    train, test = _split(len(codes), test_fraction, seed)
    scaled = StandardScaler().fit(codes[train]).transform(codes)  # a constant dimension is centred only
    aucs = [_roc_auc(LogisticRegression(max_iter=1000).fit(scaled[train], f[train]), scaled[test], f[test])
            for f in factors.T]
    return ModularityExplicitness(modularity(mutual_information(codes[train], factors[train], n_bins)),
                                  float(np.mean(aucs)))


def _fixed_factor_features(codes: np.ndarray, factors: np.ndarray, n: int, batch_size: int,
                           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` Z-diff examples: a factor ``k`` at random, ``batch_size`` pairs of distinct rows that
    share their value of ``k``, and the mean absolute difference of their codes."""
    k_of = rng.integers(factors.shape[1], size=n)
    features = np.empty((n, codes.shape[1]))
    for k in range(factors.shape[1]):
        rows = np.flatnonzero(k_of == k)
        order = np.argsort(factors[:, k], kind="stable")
        values, starts, counts = np.unique(factors[order, k], return_index=True, return_counts=True)
        if counts.max() < 2:
            raise ValueError(f"factor {k}: no value occurs twice, so no pair can fix it")
        position = np.empty(len(order), dtype=int)
        position[order] = np.arange(len(order))
        eligible = order[np.repeat(counts, counts) >= 2]  # rows whose value has a partner
        anchors = rng.choice(eligible, size=(len(rows), batch_size))
        group = np.searchsorted(values, factors[anchors, k])
        offset = 1 + np.floor(rng.random(anchors.shape) * (counts[group] - 1)).astype(int)
        partners = order[starts[group] + (position[anchors] - starts[group] + offset) % counts[group]]
        features[rows] = np.abs(codes[anchors] - codes[partners]).mean(axis=1)
    return features, k_of


def z_diff(codes, factors, *, batch_size: int = 64, n_train: int = 2000, n_eval: int = 1000,
           seed: int = 0) -> float:
    """Evaluation accuracy of the beta-VAE metric's linear classifier (chance: 1 / K)."""
    codes, factors = _check(codes, factors)
    rng = np.random.default_rng(seed)
    x_train, y_train = _fixed_factor_features(codes, factors, n_train, batch_size, rng)
    x_eval, y_eval = _fixed_factor_features(codes, factors, n_eval, batch_size, rng)
    model = LogisticRegression(max_iter=10_000).fit(x_train, y_train)
    return float(model.score(x_eval, y_eval))


def rankme(codes) -> float:
    """Effective rank of the ``[n, d]`` codes: exp of the entropy of their normalized singular values."""
    return float(effective_rank(torch.as_tensor(np.asarray(codes, dtype=float)).unsqueeze(0))[0])


# ---------------------------------------------------------------- chance levels

def chance_level(metric: str, factors) -> float:
    """The score a code with no information about the factors gets in expectation, for the metrics
    that have one: ``z_diff`` (1 / K), ``explicitness`` (ROC-AUC 0.5), ``informativeness`` (the
    mean over factors of the majority value's share)."""
    factors = np.asarray(factors)
    if metric == "z_diff":
        return 1.0 / factors.shape[1]
    if metric == "explicitness":
        return 0.5
    if metric == "informativeness":
        return float(np.mean([np.bincount(f - f.min()).max() / len(f) for f in factors.T]))
    raise ValueError(f"{metric!r} has no chance level here; choose z_diff, explicitness or informativeness")


def rescaled(score: float, chance: float) -> float:
    """``(score - chance) / (1 - chance)``: 0 at chance, 1 at a perfect score (Carbonneau et al.)."""
    return (score - chance) / (1.0 - chance)


# ---------------------------------------------------------------- all of them at once

def scores(codes, factors, *, dci_classifier: Callable[[], object] = GradientBoostingClassifier,
           seed: int = 0) -> dict[str, float]:
    """Every metric of this module on one embedding, flat and named, with the chance-rescaled
    Z-diff, informativeness and explicitness beside the raw ones (Chapter 5's table row)."""
    codes, factors = _check(codes, factors)
    d = dci(codes, factors, seed=seed, classifier=dci_classifier)
    m = modularity_explicitness(codes, factors, seed=seed)
    raw = {"z_diff": z_diff(codes, factors, seed=seed), "dci_disentanglement": d.disentanglement,
           "dci_completeness": d.completeness, "informativeness": d.informativeness, "mig": mig(codes, factors),
           "sap": sap(codes, factors, seed=seed), "modularity": m.modularity, "explicitness": m.explicitness,
           "dcimig": dcimig(codes, factors), "rankme": rankme(codes)}
    chance = {k: rescaled(raw[k], chance_level(k, factors)) for k in ("z_diff", "informativeness", "explicitness")}
    return raw | {f"{k}_rescaled": v for k, v in chance.items()}
