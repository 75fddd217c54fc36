"""Property tests of Lemma 4 and Theorem 2 (taskrel.proofs.wasserstein), and of what breaks without their assumptions."""
import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from taskrel.ot import classwise_wasserstein, label_wasserstein
from taskrel.proofs.wasserstein import (label_wasserstein_lp, lemma4_sides, random_matched_pair,
                                        squared_label_wasserstein, target_tau, theorem2_sides)
from taskrel.probe import lipschitz_constant
from taskrel.transforms import FiniteDistribution, LinearSoftmax, prior_transform

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
FIND = settings(SETTINGS, max_examples=300, phases=[Phase.generate])     # counterexample searches: no shrinking needed
coord = st.floats(-4, 4, allow_nan=False, allow_infinity=False)


@st.composite
def labelled(draw, K, d):
    "A finite distribution with every one of K classes present, random positive weights."
    counts = draw(st.lists(st.integers(1, 3), min_size=K, max_size=K))
    y = np.repeat(np.arange(K), counts)
    z = draw(arrays(np.float64, (len(y), d), elements=coord))
    w = np.array(draw(st.lists(st.floats(0.05, 1.0), min_size=len(y), max_size=len(y))))
    return FiniteDistribution(z, y, w / w.sum(), K)


@st.composite
def instances(draw, matched=True, min_classes=1):
    "(U, Q, probe): two distributions on the same K classes (Q reweighted to U's prior when `matched`) and a probe."
    K, d = draw(st.integers(min_classes, 3)), draw(st.integers(1, 2))
    U, Q = draw(labelled(K, d)), draw(labelled(K, d))
    if matched: Q = prior_transform(Q, U.prior)
    W = draw(arrays(np.float64, (K, d), elements=st.floats(-3, 3)))
    b = draw(arrays(np.float64, (K,), elements=st.floats(-2, 2)))
    return U, Q, LinearSoftmax(W, b)


@st.composite
def shifted(draw):
    "(R, T, probe) with T = R moved by one vector (at most 1 long): priors equal, W_d <= |shift|, the tight regime."
    K, d = draw(st.integers(2, 3)), draw(st.integers(1, 2))
    R = draw(labelled(K, d))
    s = draw(arrays(np.float64, (d,), elements=st.floats(-1, 1)))
    W = draw(arrays(np.float64, (K, d), elements=st.floats(-3, 3)))
    return R, FiniteDistribution(R.z + s, R.y, R.w, K), LinearSoftmax(W)


# ---------------------------------------------------------------- the statements hold
@SETTINGS
@given(instances())
def test_lemma4_is_an_equality(inst):
    U, Q, _ = inst
    lhs, rhs = lemma4_sides(U, Q)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-7, atol=1e-9)             # HiGHS vs POT, two different LP codes


@SETTINGS
@given(st.one_of(instances(min_classes=2), shifted()))
def test_theorem2_holds_with_global_and_target_tau(inst):
    R, T, h = inst
    for tau in (None, "target"):
        lhs, rhs = theorem2_sides(h, R, T, tau)
        assert lhs <= rhs + 1e-9 * (1 + abs(lhs)), (tau, lhs, rhs)
    assert target_tau(h, T) <= lipschitz_constant(h) + 1e-12


def test_lemma4_by_hand():
    # class 0 moves by 1 (mass 1/4), class 1 by 2 (mass 3/4): W_d = 1/4 + 3/2
    U = FiniteDistribution([[0.], [10.], [10.]], [0, 1, 1], [.25, .375, .375])
    Q = FiniteDistribution([[1.], [12.]], [0, 1], [.25, .75])
    assert lemma4_sides(U, Q) == pytest.approx((1.75, 1.75), rel=1e-9)


def test_seeded_instances_have_equal_priors():
    for seed in range(20):
        U, Q = random_matched_pair(seed)
        np.testing.assert_allclose(U.prior, Q.prior, atol=1e-12)


# ---------------------------------------------------------------- dropping an assumption breaks them
def test_unequal_priors_make_wd_infinite_and_lemma4_false():
    # hypothesis finds an instance where the (finite) class-wise sum differs from W_d
    U, Q, _ = find(instances(matched=False), lambda i: np.isfinite(lemma4_sides(i[0], i[1])[1])
                   and lemma4_sides(i[0], i[1])[0] != lemma4_sides(i[0], i[1])[1], settings=FIND)
    assert label_wasserstein_lp(U, Q) == float("inf") == label_wasserstein(U.z, U.y, Q.z, Q.y, U.w, Q.w)
    assert np.abs(U.prior - Q.prior).max() > 0


def _classwise_bound_fails(inst):
    R, T, h = inst
    gap = theorem2_sides(h, R, T)[0]
    return gap > lipschitz_constant(h) * classwise_wasserstein(R.z, R.y, T.z, T.y, R.w, T.w) + 1e-6


def test_hypothesis_finds_that_the_classwise_sum_does_not_bound_the_gap_when_priors_differ():
    R, T, h = find(instances(matched=False, min_classes=2), _classwise_bound_fails, settings=FIND)
    assert theorem2_sides(h, R, T)[1] == float("inf")                        # Theorem 2 itself is only vacuous


def test_the_same_search_finds_nothing_when_priors_match():
    # the control: with matched priors the class-wise sum is W_d and Theorem 2 holds, so no counterexample exists
    @SETTINGS
    @given(instances(matched=True, min_classes=2))
    def prop(inst): assert not _classwise_bound_fails(inst)
    prop()


def test_underestimated_tau_breaks_theorem2():
    def halved_tau_fails(inst):
        R, T, h = inst
        lhs, rhs = theorem2_sides(h, R, T, tau=0.5 * lipschitz_constant(h))
        return lhs > rhs + 1e-9
    R, T, h = find(shifted(), halved_tau_fails, settings=FIND)              # the search finds a counterexample
    assert halved_tau_fails((R, T, h))


def test_squared_cost_is_not_a_valid_bound():
    R, T, h = find(shifted(),
                   lambda i: theorem2_sides(i[2], i[0], i[1])[0] > lipschitz_constant(i[2]) * squared_label_wasserstein(i[0], i[1]) + 1e-6,
                   settings=FIND)
    lhs, rhs = theorem2_sides(h, R, T)
    assert lhs <= rhs + 1e-9                                                  # while the norm version holds on it


def test_bad_input():
    U = FiniteDistribution([[0.]], [0])
    with pytest.raises(ValueError, match=r"Q: expected a FiniteDistribution"):
        lemma4_sides(U, np.zeros((1, 1)))
    with pytest.raises(ValueError, match=r"T: has 2 features but R has 1"):
        theorem2_sides(LinearSoftmax(np.ones((1, 1))), U, FiniteDistribution([[0., 0.]], [0]))
    with pytest.raises(ValueError, match=r"tau='global': use a number"):
        theorem2_sides(LinearSoftmax(np.ones((1, 1))), U, U, tau="global")
