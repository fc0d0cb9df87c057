"""Imbalance metrics on confusion matrices and features whose answers are worked out here."""

import warnings

import numpy as np
import pytest

from clipbook.evaluate.imbalance import confusion_matrix, equiangularity, frequency_correlations, neural_collapse


def test_confusion_matrix_counts_label_prediction_pairs():
    c = confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], 3)
    assert c.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]


def test_a_model_biased_towards_frequent_classes_correlates_fully():
    frequencies = [400, 200, 100, 50]
    # accuracy 0.9, 0.7, 0.5, 0.3 (falls with rank); errors all go to the head class
    confusion = np.array([[9, 1, 0, 0], [3, 7, 0, 0], [5, 0, 5, 0], [7, 0, 0, 3]])
    rho = frequency_correlations(confusion, frequencies)
    assert rho.accuracy == pytest.approx(1.0)
    # prediction counts 24, 8, 5, 3 follow the frequencies exactly in rank
    assert rho.predictions == pytest.approx(1.0)


def test_an_unbiased_model_and_a_reversed_one():
    frequencies = [400, 200, 100, 50]
    balanced = 10 * np.eye(4)
    assert np.isnan(frequency_correlations(balanced, frequencies).accuracy)  # constant accuracy: no correlation
    reversed_ = np.array([[3, 0, 0, 7], [0, 5, 0, 5], [0, 0, 7, 3], [0, 0, 0, 10]])
    rho = frequency_correlations(reversed_, frequencies)
    assert rho.accuracy == pytest.approx(-1.0) and rho.predictions == pytest.approx(-1.0)


def test_classes_without_test_samples_are_left_out_of_the_accuracy():
    confusion = np.array([[8, 2, 0], [0, 0, 0], [4, 0, 6]])
    # accuracies 0.8 (freq 30) and 0.6 (freq 10): rho 1 over the two tested classes
    assert frequency_correlations(confusion, [30, 20, 10]).accuracy == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"confusion must be \[K, K\]"):
        frequency_correlations(np.ones((3, 2)), [1, 2, 3])


def test_accuracy_is_correct_over_tested_per_class_even_with_one_test_sample():
    # class 0: one sample, wrong (0.0); class 1: two, right (1.0); class 2: ten, half right (0.5).
    # Frequencies 30, 20, 10 rank 3, 2, 1 and accuracies 1, 3, 2: d = (2, -1, -1), rho = 1 - 6*6/24 = -0.5
    confusion = np.array([[0, 1, 0], [0, 2, 0], [5, 0, 5]])
    assert frequency_correlations(confusion, [30, 20, 10]).accuracy == pytest.approx(-0.5)


def test_a_constant_accuracy_is_nan_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(frequency_correlations(10 * np.eye(3), [3, 2, 1]).accuracy)


def _simplex(k: int, d: int) -> np.ndarray:
    """A simplex equiangular tight frame: ``k`` unit vectors with pairwise cosine -1 / (k - 1)."""
    e = np.eye(k) - 1 / k
    frame = e / np.linalg.norm(e, axis=1, keepdims=True)
    return np.pad(frame, ((0, 0), (0, d - k)))


def test_collapsed_features_on_a_simplex_score_zero():
    means = 3 * _simplex(4, 6)
    labels = np.repeat(np.arange(4), 5)
    nc = neural_collapse(means[labels], labels)
    assert nc.nc1 == pytest.approx(0.0, abs=1e-12) and nc.nc2 == pytest.approx(0.0, abs=1e-12)


def test_nc1_is_the_within_over_between_ratio():
    # two classes on a line: means -1 and +1, each sample +/- s around its mean
    s = 0.5
    features = np.array([[-1 - s], [-1 + s], [1 - s], [1 + s]])
    labels = np.array([0, 0, 1, 1])
    # Sigma_W = s^2, Sigma_B = 1 (means +/-1 around 0), NC1 = s^2 / 1 / K
    assert neural_collapse(features, labels).nc1 == pytest.approx(s ** 2 / 2)


def test_equiangularity_of_vectors_off_the_simplex():
    # a degenerate frame: two equal vectors and one opposite (already centred)
    v = np.array([[1.0, 0.0], [1.0, 0.0], [-2.0, 0.0]])
    # centred: same; cosines: (1,2)=+1, (1,3)=(2,3)=-1; |cos + 1/2| = 1.5, 0.5, 0.5 -> mean 5/6
    assert equiangularity(v) == pytest.approx(5 / 6)
    with pytest.raises(ValueError, match="^equiangularity needs at least two vectors$"):
        equiangularity(np.ones((1, 3)))


def test_both_measures_ignore_where_the_features_sit():
    """NC1 and NC2 are about the geometry around the global mean: a shift of every feature by the
    same vector changes neither (the centring is over classes, per dimension)."""
    offset = np.array([5.0, -3.0, 2.0, 0.0, 1.0, 7.0])
    means = 3 * _simplex(4, 6)
    labels = np.repeat(np.arange(4), 3)
    features = means[labels] + np.random.default_rng(0).normal(0, 0.3, (12, 6))
    plain, shifted = neural_collapse(features, labels), neural_collapse(features + offset, labels)
    assert shifted.nc1 == pytest.approx(plain.nc1) and shifted.nc2 == pytest.approx(plain.nc2)
    assert equiangularity(means + offset) == pytest.approx(0.0, abs=1e-12)


def test_neural_collapse_rejects_labels_that_do_not_match():
    with pytest.raises(ValueError, match=r"^neural_collapse needs \[n, d\] features and n labels of at least two classes$"):
        neural_collapse(np.zeros((4, 2)), np.array([0, 1, 1]))
    with pytest.raises(ValueError, match="n labels of at least two classes"):
        neural_collapse(np.zeros((3, 2)), np.array([1, 1, 1]))


def test_neural_collapse_reads_float32_features_as_float64():
    """A test audit's survivor: without the cast to float, the pseudo-inverse of the rank-deficient
    between-class covariance keeps float32's rounding noise as singular values (NC1 of about 3e8
    instead of tens)."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 50)
    features = rng.normal(size=(10, 64))[labels] + rng.normal(size=(500, 64))
    exact = neural_collapse(features, labels)
    single = neural_collapse(features.astype(np.float32), labels)
    assert single.nc1 == pytest.approx(exact.nc1, rel=1e-4) and single.nc2 == pytest.approx(exact.nc2, rel=1e-4)
