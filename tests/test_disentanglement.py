"""Disentanglement metrics on codes whose answers are known: a worked example computed by hand,
and four codes with a known ordering (factorized, rotated, with a nuisance dimension, noise)."""

import functools
import math
import os
from collections import Counter

import numpy as np
import pytest
from scipy import stats
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from clipbook.evaluate import disentanglement as dis

# ---------------------------------------------------------------- a worked example, by hand
# Two binary factors over four rows; code 1 copies factor 1, code 2 is their AND.
HAND_FACTORS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
HAND_CODES = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
LN2 = math.log(2)
# I(AND; f) = H(AND) - H(AND | f) = h(1/4) - h(1/2) / 2 for either factor (h: binary entropy, nats)
MI_AND = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75)) - LN2 / 2


def test_mutual_information_of_the_worked_example():
    expected = np.array([[LN2, 0.0], [MI_AND, MI_AND]])
    np.testing.assert_allclose(dis.mutual_information(HAND_CODES, HAND_FACTORS), expected, atol=1e-12)
    np.testing.assert_allclose(dis.factor_entropy(HAND_FACTORS), [LN2, LN2])


def test_mig_dcimig_and_modularity_of_the_worked_example():
    # MIG: factor 1 gap (ln2 - MI_AND) / ln2, factor 2 gap MI_AND / ln2: mean 1/2.
    assert dis.mig(HAND_CODES, HAND_FACTORS) == pytest.approx(0.5)
    # DCIMIG: code 1 credits ln2 to factor 1, code 2 a zero gap; (ln2 + 0) / (ln2 + ln2) = 1/2.
    assert dis.dcimig(HAND_CODES, HAND_FACTORS) == pytest.approx(0.5)
    # Modularity: code 1 is perfectly modular (1), code 2 splits equally over both factors (0).
    assert dis.modularity(dis.mutual_information(HAND_CODES, HAND_FACTORS)) == pytest.approx(0.5)
    assert dis.modularity(np.zeros((2, 2))) == 0.0  # codes without information score 0


def test_dci_from_known_importance_matrices():
    assert dis.dci_from_importance(np.eye(3)) == pytest.approx((1.0, 1.0))
    assert dis.dci_from_importance(np.ones((3, 3))) == pytest.approx((0.0, 0.0), abs=1e-9)
    one_code_for_all = np.array([[1.0, 1.0], [0.0, 0.0]])  # complete (each factor in one code), not disentangled
    assert dis.dci_from_importance(one_code_for_all) == pytest.approx((0.0, 1.0), abs=1e-9)


def test_dci_from_a_non_square_importance_matrix():
    """Three codes, two factors: code 1 serves factor 1 only (disentanglement 1), code 2 both
    equally (0), code 3 nothing (0); weighted by importance (1/3, 2/3, 0): D = 1/3. Factor 1 is
    spread over two of three codes, 1 - ln 2 / ln 3; factor 2 sits in one (1); weighted 2/3, 1/3."""
    importance = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    completeness = 2 / 3 * (1 - math.log(2) / math.log(3)) + 1 / 3
    tol = 1e-7  # the entropies' 1e-11 smoothing of zero entries moves them by about 1e-9 (n * eps * log(1/eps))
    assert dis.dci_from_importance(importance) == pytest.approx((1 / 3, completeness), abs=tol)
    assert dis.dci_from_importance(0.1 * importance) == pytest.approx((1 / 3, completeness), abs=tol)  # scale-free
    assert dis.dci_from_importance(np.zeros((3, 2))) == pytest.approx((0.0, 0.0), abs=tol)  # no importance at all


def test_mig_and_dcimig_bin_codes_as_asked():
    # code 1 orders the factor's values 0, 0, 1, 1 as 0, 2, 1, 3: twenty bins keep every value apart
    # (MI ln 2, scores 1), two bins pool {0, 1} and {2, 3}, each holding both factor values (MI 0,
    # scores 0); code 2 is constant.
    codes, factors = np.array([[0.0, 5.0], [2.0, 5.0], [1.0, 5.0], [3.0, 5.0]]), np.array([[0], [0], [1], [1]])
    for metric in (dis.mig, dis.dcimig):
        assert metric(codes, factors) == pytest.approx(1.0) and metric(codes, factors, n_bins=2) == pytest.approx(0.0)


def test_sap_uses_the_svm_of_its_definition(monkeypatch):
    """Kumar et al.'s SAP for discrete factors: a linear SVM with C = 0.01 and balanced class weights."""
    made = []

    class Recorded(dis.LinearSVC):
        def fit(self, x, y):
            made.append(self.get_params())
            return super().fit(x, y)

    monkeypatch.setattr(dis, "LinearSVC", Recorded)
    rng = np.random.default_rng(0)
    dis.sap(rng.normal(size=(50, 2)), rng.integers(0, 2, size=(50, 1)))
    assert len(made) == 2 and all(p["C"] == 0.01 and p["class_weight"] == "balanced" for p in made)


def test_the_discretizer_uses_equal_width_bins():
    binned = dis.discretize(np.array([[0.0], [0.049], [0.051], [1.0]]), n_bins=20)
    assert binned[:, 0].tolist() == [1, 1, 2, 20]


# ---------------------------------------------------------------- codes with a known ordering

def _codes(n: int = 1000, seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    factors = np.stack([rng.integers(4, size=n), rng.integers(5, size=n)], axis=1)
    factorized = factors + 0.05 * rng.standard_normal((n, 2))
    rotation = np.array([[1.0, 1.0], [1.0, -1.0]]) / math.sqrt(2)
    return factors, {
        "factorized": factorized,
        "rotated": factorized @ rotation,
        "nuisance": np.concatenate([factorized, rng.standard_normal((n, 1))], axis=1),
        "noise": rng.standard_normal((n, 2)),
    }


FACTORS, CODES = _codes()


METRICS = {
    "mig": dis.mig, "dcimig": dis.dcimig, "sap": dis.sap, "dci": dis.dci,
    "modularity": lambda c, f: dis.modularity_explicitness(c, f).modularity,
    "explicitness": lambda c, f: dis.modularity_explicitness(c, f).explicitness,
    "z_diff": lambda c, f: dis.z_diff(c, f, n_train=500, n_eval=300),
}


def score(name: str, metric: str):
    """A metric of one of the codes, computed when a test first asks for it and kept: each metric
    runs inside the tests that check it, so mutation testing knows which tests cover which."""
    return _score(name, metric, os.getpid())


@functools.cache
def _score(name: str, metric: str, process: int):
    """Kept per process: a test process forked from one that already ran the tests (as mutmut's
    are) must compute its own scores, not inherit the parent's."""
    return METRICS[metric](CODES[name], FACTORS)


# SAP's per-dimension linear SVM (one-vs-rest on a scalar) cannot carve out a factor's middle
# values, so even a perfectly factorized code predicts a 4- or 5-valued factor about half right
# against a quarter for the runner-up: its ceiling here is far below 1.
FACTORIZED_FLOOR = {"mig": 0.8, "dcimig": 0.8, "sap": 0.3, "modularity": 0.8}


@pytest.mark.parametrize("metric", FACTORIZED_FLOOR)
def test_factorized_beats_rotated_beats_noise(metric):
    factorized, rotated, noise = (score(k, metric) for k in ("factorized", "rotated", "noise"))
    assert factorized > FACTORIZED_FLOOR[metric] and factorized > rotated + 0.2, (factorized, rotated)
    assert noise < 0.15 if metric != "modularity" else noise < factorized, noise


def test_a_nuisance_dimension_leaves_the_gap_metrics_alone():
    for metric in ("mig", "dcimig", "sap"):
        assert score("nuisance", metric) == pytest.approx(score("factorized", metric), abs=0.05), metric


def test_dci_orders_the_codes():
    factorized, rotated, noise = (score(k, "dci") for k in ("factorized", "rotated", "noise"))
    assert factorized.disentanglement > 0.8 and factorized.completeness > 0.8 and factorized.informativeness > 0.95
    assert rotated.disentanglement < factorized.disentanglement - 0.3
    assert rotated.informativeness > 0.9  # a rotation loses no information, only its alignment
    chance = dis.chance_level("informativeness", FACTORS)
    assert dis.rescaled(noise.informativeness, chance) < 0.1


def test_explicitness_and_z_diff_against_their_chance_levels():
    assert score("factorized", "explicitness") > 0.95
    assert score("noise", "explicitness") == pytest.approx(dis.chance_level("explicitness", FACTORS), abs=0.05)
    assert score("factorized", "z_diff") > 0.95
    assert score("noise", "z_diff") == pytest.approx(dis.chance_level("z_diff", FACTORS), abs=0.1)


def test_rankme_counts_the_directions_in_use():
    assert dis.rankme(CODES["noise"]) == pytest.approx(2.0, abs=0.05)
    line = np.outer(np.arange(10.0), [1.0, 2.0])
    assert dis.rankme(line) == pytest.approx(1.0, abs=1e-3)
    assert dis.rankme(np.eye(3, dtype=int)) == pytest.approx(3.0)  # integer codes: three equal directions


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match=r"\[n, d\]"):
        dis.mig(np.zeros(4), HAND_FACTORS)
    with pytest.raises(ValueError, match="integer"):
        dis.mig(HAND_CODES, HAND_FACTORS.astype(float))
    with pytest.raises(ValueError, match="no chance level"):
        dis.chance_level("mig", HAND_FACTORS)
    with pytest.raises(ValueError, match="twice"):
        dis.z_diff(HAND_CODES[:2], np.array([[0, 0], [1, 1]]), n_train=4, n_eval=4)
    with pytest.raises(ValueError, match=r"\[n, d\]"):  # as many codes as factor rows
        dis.mig(HAND_CODES, HAND_FACTORS[:-1])
    with pytest.raises(ValueError, match="^factors must be integer class indices"):
        dis.mig(HAND_CODES, HAND_FACTORS.astype(float))


def test_rescaled_maps_chance_to_zero_and_perfect_to_one():
    assert dis.rescaled(0.25, 0.25) == 0.0 and dis.rescaled(1.0, 0.25) == 1.0
    assert dis.rescaled(0.75, 0.5) == pytest.approx(0.5)


NOISE = CODES["noise"][:300] + 0.5 * FACTORS[:300]  # weakly informative: every split and seed moves the scores


@pytest.mark.parametrize("metric", ["z_diff", "dci", "sap", "modularity_explicitness"])
def test_seeded_metrics_default_to_seed_0(metric):
    fn, fixed = getattr(dis, metric), {"z_diff": dict(batch_size=64, n_train=2000, n_eval=1000)}.get(metric, {})
    assert fn(NOISE, FACTORS[:300]) == fn(NOISE, FACTORS[:300], seed=0, **fixed)
    assert fn(NOISE, FACTORS[:300]) != fn(NOISE, FACTORS[:300], seed=1, **fixed)



def test_z_diff_pairs_share_the_fixed_factor_and_cover_every_partner():
    """Z-diff's examples, one pair each (batch size 1), on codes that give the pair away: the
    factors themselves, a row id and its square (|a - b| and |a^2 - b^2| name the rows). Factor 0
    takes two values in groups of four rows, factor 1 four values in groups of exactly two."""
    factors = np.array([[0, 0], [0, 0], [0, 1], [0, 1], [1, 2], [1, 2], [1, 3], [1, 3]])
    ids = np.arange(8.0)
    codes = np.column_stack([factors, ids, ids ** 2])
    features, k_of = dis._fixed_factor_features(codes, factors, 3000, 1, np.random.default_rng(0))
    assert set(k_of) == {0, 1}
    pairs = {0: set(), 1: set()}
    for (d0, d1, d_id, d_sq), k in zip(features, k_of):
        assert (d0, d1)[k] == 0  # the pair shares the fixed factor
        assert d_id >= 1  # two distinct rows
        total = d_sq / d_id  # a + b
        pairs[k].add((round((total - d_id) / 2), round((total + d_id) / 2)))
    groups = {0: [range(0, 4), range(4, 8)], 1: [range(0, 2), range(2, 4), range(4, 6), range(6, 8)]}
    for k, members in groups.items():  # every partner of every row is drawn, and nothing else
        assert pairs[k] == {(a, b) for g in members for a in g for b in g if a < b}, k


@pytest.mark.parametrize("metric", ["sap", "modularity", "explicitness", "dci"])
def test_split_metrics_are_a_function_of_their_seed(metric):
    """The metrics that split train and test rows draw the split from ``seed``: the same seed gives
    the same score, another seed another split (on a code noisy enough for the split to matter)."""
    codes = CODES["noise"][:300]
    factors = FACTORS[:300]
    fn = {"sap": dis.sap, "dci": dis.dci,
          "modularity": lambda c, f, seed: dis.modularity_explicitness(c, f, seed=seed).explicitness,
          "explicitness": lambda c, f, seed: dis.modularity_explicitness(c, f, seed=seed).explicitness}[metric]
    first, again, other = fn(codes, factors, seed=0), fn(codes, factors, seed=0), fn(codes, factors, seed=1)
    assert first == again and first != other


def test_scores_gather_every_metric_at_one_seed():
    codes, factors = NOISE, FACTORS[:300]
    row = dis.scores(codes, factors, seed=3)
    d, m = dis.dci(codes, factors, seed=3), dis.modularity_explicitness(codes, factors, seed=3)
    raw = {"z_diff": dis.z_diff(codes, factors, seed=3), "dci_disentanglement": d.disentanglement,
           "dci_completeness": d.completeness, "informativeness": d.informativeness, "mig": dis.mig(codes, factors),
           "sap": dis.sap(codes, factors, seed=3), "modularity": m.modularity, "explicitness": m.explicitness,
           "dcimig": dis.dcimig(codes, factors), "rankme": dis.rankme(codes)}
    rescaled = {f"{k}_rescaled": dis.rescaled(raw[k], dis.chance_level(k, factors))
                for k in ("z_diff", "informativeness", "explicitness")}
    assert row == pytest.approx(raw | rescaled)


def test_dcimig_subtracts_the_runner_up_and_keeps_each_factor_s_best():
    # factors a and b are bits; the code 2a + b tells both (MI ln 2 with each): no gap, DCIMIG 0
    a, b = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    factors = np.column_stack([a, b])
    assert dis.dcimig(np.column_stack([2 * a + b]), factors) == pytest.approx(0.0, abs=1e-12)
    # two more codes, each a copy of a, credit ln 2 to factor a twice: it keeps one, (ln 2 + 0) / (2 ln 2)
    assert dis.dcimig(np.column_stack([2 * a + b, a, a]), factors) == pytest.approx(0.5)


def test_modularity_with_three_factors():
    # one code, MI (1, 1, 0): (1 + 1 + 0 - 1) / (1 * (3 - 1)) = 1/2 off its best factor
    assert dis.modularity(np.array([[1.0, 1.0, 0.0]])) == pytest.approx(0.5)


def test_explicitness_of_a_binary_factor():
    rng = np.random.default_rng(0)
    factor = rng.integers(2, size=(400, 1))
    codes = np.column_stack([factor[:, 0] + 0.1 * rng.standard_normal(400), rng.standard_normal(400)])
    assert dis.modularity_explicitness(codes, factor).explicitness == pytest.approx(1.0)
    noise = dis.modularity_explicitness(rng.standard_normal((400, 2)), factor).explicitness
    assert 0.35 < noise < 0.65  # chance: an AUC of 1/2


def test_the_test_fraction_must_leave_rows_on_both_sides():
    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match=r"test_fraction must lie in \(0, 1\)"):
            dis._split(10, bad, 0)
    train, test = dis._split(10, 0.05, 0)  # 0.5 rows round to none: one test row all the same
    assert len(train) == 9 and len(test) == 1


def test_the_pair_sampler_never_pairs_a_row_with_itself():
    # value 0 occurs once (no partner), value 1 three times: partners come from rows 1-3, never the anchor
    factors, codes = np.array([[0], [1], [1], [1]]), np.arange(4.0)[:, None]
    features, _ = dis._fixed_factor_features(codes, factors, 500, 1, np.random.default_rng(0))
    assert features.min() >= 1


def test_explicitness_does_not_depend_on_each_dimension_s_unit_or_origin():
    """The codes are standardized on the training rows: rescaling and shifting each dimension, by
    orders of magnitude, leaves explicitness as it was; a dimension constant there is harmless."""
    factors, codes = _codes(400)
    codes = codes["nuisance"]
    moved = np.column_stack([codes * [1e-3, 1e3, 7.0] + [5.0, -1e4, 0.5], np.full(len(codes), 2.0)])
    expected = dis.modularity_explicitness(codes, factors).explicitness
    assert dis.modularity_explicitness(moved, factors).explicitness == pytest.approx(expected, abs=1e-9)


def test_modularity_bins_the_codes_as_asked():
    factors, codes = _codes(400)
    codes = codes["nuisance"]
    train, _ = dis._split(len(codes), 0.2, 0)
    by_bins = {b: dis.modularity(dis.mutual_information(codes[train], factors[train], b)) for b in (3, dis.N_BINS)}
    assert by_bins[3] != pytest.approx(by_bins[dis.N_BINS])  # the example tells the binnings apart
    assert dis.modularity_explicitness(codes, factors, n_bins=3).modularity == pytest.approx(by_bins[3])


def test_explicitness_averages_over_the_classes_the_test_rows_hold():
    """Three classes, separable on one dimension; the test rows hold two of them. The absent class
    has no ROC-AUC and is left out, so the two present classes, perfectly ranked, give 1."""
    codes = np.array([-3.0, -2.9, -3.1, 0.0, 0.1, -0.1, 3.0, 3.1, 2.9])[:, None]
    factor = np.repeat([0, 1, 2], 3)
    model = LogisticRegression().fit(codes, factor)
    assert dis._roc_auc(model, np.array([[-3.0], [-2.5], [0.2], [0.0]]), np.array([0, 0, 1, 1])) == 1.0


def test_z_diff_draws_every_partner_of_a_row_equally_often():
    """In groups of four rows, each of a group's six pairs is drawn with probability 1/6 (a chi-square
    test of uniformity; drawing one offset too few would make neighbours half as likely)."""
    factors = np.repeat([0, 1], 4)[:, None]
    ids = np.arange(8.0)
    codes = np.column_stack([ids, ids ** 2])
    features, _ = dis._fixed_factor_features(codes, factors, 6000, 1, np.random.default_rng(0))
    d, total = features[:, 0], features[:, 1] / features[:, 0]
    pairs = Counter(zip(np.round((total - d) / 2).astype(int), np.round((total + d) / 2).astype(int)))
    assert len(pairs) == 12
    assert stats.chisquare(list(pairs.values())).pvalue > 0.001


def test_scores_train_dci_with_the_classifier_given():
    """Chapter 5 passes small boosted forests (``dci_trees``): DCI's three numbers come from them."""
    codes, factors = NOISE, FACTORS[:300]
    small = functools.partial(GradientBoostingClassifier, n_estimators=2)
    row, d = dis.scores(codes, factors, dci_classifier=small), dis.dci(codes, factors, classifier=small)
    assert (row["dci_disentanglement"], row["dci_completeness"], row["informativeness"]) == pytest.approx(
        (d.disentanglement, d.completeness, d.informativeness))
    assert row["dci_completeness"] != pytest.approx(dis.dci(codes, factors).completeness)  # the default differs
