"""taskrel.selection: bad input, hand-countable Kendall, rank invariances, ties, and the sign conventions of score_zoo."""
import itertools
import math
import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings, strategies as st
from taskrel.selection import pearson, kendall, weighted_kendall, top1_hit, score_zoo

CORRELATIONS = [pearson, kendall, weighted_kendall]


@pytest.mark.parametrize("f", CORRELATIONS)
def test_correlations_reject_bad_input(f):
    with pytest.raises(ValueError, match=r"y: has 2 values but x has 3"): f([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match=r"x: a correlation needs at least 2 models, got 1"): f([1], [2])
    with pytest.raises(ValueError, match=r"x: expected one value per model \(1-D\)"): f([[1, 2], [3, 4]], [1, 2])
    with pytest.raises(ValueError, match=r"y: contains 1 NaN"): f([1, 2, 3], [1, np.nan, 3])


@pytest.mark.parametrize("f", CORRELATIONS)
def test_constant_vectors_give_nan(f):
    assert math.isnan(f([2, 2, 2], [1, 2, 3])) and math.isnan(f([1, 2, 3], [0.5, 0.5, 0.5]))


def _tau_b_by_counting(x, y):
    "Kendall's tau-b by enumerating all pairs."
    pairs = list(itertools.combinations(range(len(x)), 2))
    s = [np.sign(x[i] - x[j]) * np.sign(y[i] - y[j]) for i, j in pairs]
    n0 = len(pairs)
    tx = sum(x[i] == x[j] for i, j in pairs); ty = sum(y[i] == y[j] for i, j in pairs)
    return sum(s) / math.sqrt((n0 - tx) * (n0 - ty))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=3, max_size=9))
def test_kendall_counts_pairs_with_ties(xy):
    x, y = np.array(xy, float).T
    if np.all(x == x[0]) or np.all(y == y[0]): return
    np.testing.assert_allclose(kendall(x, y), _tau_b_by_counting(x, y), rtol=1e-12, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(-50, 50), min_size=3, max_size=8, unique=True),
       st.lists(st.integers(0, 100), min_size=3, max_size=8, unique=True))
def test_rank_correlations_ignore_monotone_transforms(s, a):
    n = min(len(s), len(a)); s, a = np.array(s[:n]) / 10, np.array(a[:n]) / 100   # distinct values, also after exp
    assert kendall(np.exp(s), a) == pytest.approx(kendall(s, a), abs=1e-12)
    assert weighted_kendall(np.exp(s), a) == pytest.approx(weighted_kendall(s, a), abs=1e-12)
    assert weighted_kendall(s, a) == pytest.approx(weighted_kendall(a, s), abs=1e-12)   # rank=True averages both orders
    np.testing.assert_allclose(pearson(s, a), np.corrcoef(s, a)[0, 1], rtol=1e-9, atol=1e-12)


def test_weighted_kendall_is_scipys_weightedtau():
    s, a = [0.3, 0.1, 0.9, 0.4, 0.2], [70, 60, 90, 65, 80]
    assert weighted_kendall(s, a) == scipy.stats.weightedtau(s, a).statistic
    assert weighted_kendall(s, a) != kendall(s, a)


def test_top1_hit_and_ties():
    acc = [0.7, 0.9, 0.8]
    assert top1_hit([1, 3, 2], acc) and not top1_hit([3, 1, 2], acc)
    assert top1_hit([3, 1, 2], acc, higher_is_better=False)
    assert not top1_hit([3, 3, 1], acc)                    # the metric cannot tell model 0 from the best model 1
    assert top1_hit([1, 3, 3], [0.7, 0.9, 0.9])            # both tied picks are best
    assert top1_hit([2, 2, 2], [0.5, 0.5, 0.5])


def test_score_zoo_checks_model_names():
    acc = {"a": 0.5, "b": 0.6, "c": 0.7}
    with pytest.raises(ValueError, match=r"missing scores for \['c'\], no accuracy for \['d'\]"):
        score_zoo({"a": 1, "b": 2, "d": 3}, acc)
    with pytest.raises(ValueError, match=r"scores: a correlation needs at least 2 models"):
        score_zoo({"a": 1}, {"a": 0.5})


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-3, 3, allow_nan=False), min_size=3, max_size=8, unique=True), st.randoms(use_true_random=False))
def test_score_zoo_sign_conventions_and_key_order(scores, rnd):
    names = [f"m{i}" for i in range(len(scores))]
    acc = {m: 0.5 + 0.01 * ((i * i + 3) % 11) + 0.001 * i for i, m in enumerate(names)}   # distinct, not sorted
    up = score_zoo(dict(zip(names, scores)), acc)
    down = score_zoo(dict(zip(names, [-s for s in scores])), acc, higher_is_better=False)
    for key in ["pearson", "kendall", "weighted_kendall"]:
        assert down[key] == pytest.approx(-up[key], abs=1e-12)
    assert (down["top1_hit"], down["best_by_score"]) == (up["top1_hit"], up["best_by_score"])
    shuffled = names[:]; rnd.shuffle(shuffled)
    again = score_zoo({m: dict(zip(names, scores))[m] for m in shuffled}, {m: acc[m] for m in shuffled})
    for key in ["pearson", "kendall", "weighted_kendall", "top1_hit", "n_models"]:
        assert again[key] == pytest.approx(up[key], abs=1e-12)


def test_score_zoo_weights_the_metrics_own_top_picks():
    "For a lower-is-better metric, the weighted tau must weigh the models with the lowest scores, not the highest."
    acc = {"a": 0.9, "b": 0.8, "c": 0.7, "d": 0.6, "e": 0.5}
    good_at_top = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 5.0, "e": 4.0}      # lower is better: best two right, bottom two swapped
    bad_at_top = {"a": 2.0, "b": 1.0, "c": 3.0, "d": 4.0, "e": 5.0}       # best two swapped
    g, b = score_zoo(good_at_top, acc, False), score_zoo(bad_at_top, acc, False)
    assert g["kendall"] == pytest.approx(b["kendall"])                   # plain tau cannot tell them apart
    assert g["weighted_kendall"] < b["weighted_kendall"] < 0             # more negative = better for lower-is-better
    assert g["top1_hit"] and not b["top1_hit"]


def test_score_zoo_returns_one_table_row():
    row = score_zoo({"x": 1.0, "y": 3.0, "z": 2.0}, {"x": 0.1, "y": 0.3, "z": 0.2})
    assert row == {"pearson": pytest.approx(1.0), "kendall": pytest.approx(1.0), "weighted_kendall": pytest.approx(1.0),
                   "top1_hit": True, "n_models": 3, "best_by_score": "y", "best_by_accuracy": "y"}
    flat = score_zoo({"x": 1.0, "y": 1.0, "z": 1.0}, {"x": 0.1, "y": 0.3, "z": 0.2})
    assert math.isnan(flat["pearson"]) and not flat["top1_hit"]
