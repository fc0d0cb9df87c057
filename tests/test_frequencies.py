"""Class-frequency profiles give the counts they promise; the shipped files are the real curves."""

import numpy as np
import pytest

from clipbook.data.frequencies import (
    FREQUENCY_FILES,
    class_counts,
    largest_remainder,
    load_frequency_file,
    loglog_slope,
    profile_weights,
)


@pytest.mark.parametrize("name", FREQUENCY_FILES)
def test_shipped_files_are_the_1000_imagenet_classes_in_order(name):
    counts = load_frequency_file(name)
    assert len(counts) == 1000
    assert counts.index[0] == "tench" and counts.index[1] == "goldfish"  # standard ImageNet order
    assert counts.dtype.kind == "i" and (counts >= 0).all() and counts.sum() > 100_000


@pytest.mark.parametrize("name,slope", [("incaps_imagenet_ori", -0.4), ("laionet_thresh0.7_ori", -1.9)])
def test_loglog_slopes_match_the_data_readme(name, slope):
    """shared/data/README.md: ImageNet-Captions 'about -0.4', LAIONet 'about -1.9'."""
    assert loglog_slope(load_frequency_file(name)) == pytest.approx(slope, abs=0.05)  # the README rounds to 0.1


def test_loglog_slope_recovers_a_power_law():
    ranks = np.arange(1, 501)
    assert loglog_slope(1e6 * ranks**-1.3) == pytest.approx(-1.3, abs=1e-9)
    assert loglog_slope(np.full(50, 7)) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("profile", ["uniform", "power_law", *FREQUENCY_FILES])
@pytest.mark.parametrize("n_classes,n_total", [(10, 1000), (1000, 50_000), (7, 3)])
def test_counts_sum_exactly(profile, n_classes, n_total):
    counts = class_counts(profile, n_classes, n_total, alpha=1.5)
    assert counts.shape == (n_classes,) and counts.sum() == n_total and (counts >= 0).all()


def test_uniform_counts_differ_by_at_most_one():
    counts = class_counts("uniform", 7, 1000)
    assert counts.max() - counts.min() <= 1


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0])
def test_power_law_counts_have_the_requested_exponent(alpha):
    counts = class_counts("power_law", 100, 10_000_000, alpha=alpha)
    assert (np.diff(counts) <= 0).all()  # head first
    assert loglog_slope(counts) == pytest.approx(-alpha, abs=0.01)
    assert counts[0] / counts[9] == pytest.approx(10**alpha, rel=0.01)


def test_full_file_profile_keeps_file_order_and_proportions():
    file = load_frequency_file("laionet_thresh0.7_ori").to_numpy()
    counts = class_counts("laionet_thresh0.7_ori", 1000, int(file.sum()))
    np.testing.assert_array_equal(counts, file)


def test_subsampled_file_profile_keeps_the_shape_of_the_tail():
    """10 classes at evenly spaced ranks: head first, and the long-tailed file stays steeper."""
    laion = class_counts("laionet_thresh0.7_ori", 10, 100_000, min_count=1)
    incaps = class_counts("incaps_imagenet_ori", 10, 100_000, min_count=1)
    assert (np.diff(laion) <= 0).all() and (np.diff(incaps) <= 0).all()
    assert laion[0] / laion[-2] > 10 * incaps[0] / incaps[-2]


def test_min_count_is_respected():
    counts = class_counts("power_law", 1000, 20_000, alpha=2.0, min_count=3)
    assert counts.min() >= 3 and counts.sum() == 20_000


def test_largest_remainder_is_proportional():
    np.testing.assert_array_equal(largest_remainder(np.array([1, 1, 2]), 8), [2, 2, 4])
    assert largest_remainder(np.array([1.0, 1.0, 1.0]), 10).tolist() == [4, 3, 3]


def test_weights_are_a_distribution():
    for profile in ("uniform", "power_law", "incaps_imagenet_ori"):
        assert profile_weights(profile, 20).sum() == pytest.approx(1.0)


def test_frequency_file_from_a_path(tmp_path):
    path = tmp_path / "freqs.tsv"
    path.write_text("cat\t30\ndog\t10\nbird\t20\n")
    counts = load_frequency_file(path)
    assert counts.to_dict() == {"cat": 30, "dog": 10, "bird": 20}
    assert class_counts(str(path), 3, 60).tolist() == [30, 10, 20]


def test_bad_profiles_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="incaps_imagenet_ori"):
        class_counts("no_such_profile", 10, 100)
    with pytest.raises(ValueError, match="fewer than 2000"):
        class_counts("incaps_imagenet_ori", 2000, 100)
    with pytest.raises(ValueError, match="cannot give"):
        class_counts("uniform", 10, 5, min_count=1)
    bad = tmp_path / "bad.tsv"
    bad.write_text("cat\tmany\n")
    with pytest.raises(ValueError, match="integer count"):
        load_frequency_file(bad)


@pytest.mark.parametrize("text, line", [("a\t3\nb\tthree\n", 2), ("a\t3\nb 4\n", 2), ("a\t-1\n", 1), ("\t5\n", 1)])
def test_a_malformed_frequency_file_names_its_line(tmp_path, text, line):
    path = tmp_path / "freqs.tsv"
    path.write_text(text)
    with pytest.raises(ValueError, match=f"line {line}:"):
        load_frequency_file(path)
