"Property tests of Theorem 3 (taskrel.proofs.bound) on random finite instances, and what breaks when an assumption is dropped."
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st, HealthCheck
from taskrel.transforms import FiniteDistribution, LinearSoftmax, fit_linear_softmax, prior_transform
from taskrel.probe import lipschitz_constant
from taskrel.proofs.bound import theorem3_sides, theorem3_instance

RTOL = 1e-9   # the optimum is fitted to gradient norm 1e-10; cond(A) <= 100
SETTINGS = dict(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

def _holds(seed, **kw):
    h, R, D, B, A, T, c = theorem3_instance(seed)
    lhs, rhs, _ = theorem3_sides(h, R, D, B, A, T, c, **kw)
    return lhs <= rhs + RTOL * max(1.0, abs(rhs))

@settings(**SETTINGS)
@given(st.integers(0, 10**6))
def test_theorem3_holds_with_exact_lipschitz_constant(seed):
    h, R, D, B, A, T, c = theorem3_instance(seed)
    lhs, rhs, t = theorem3_sides(h, R, D, B, A, T, c)
    np.testing.assert_allclose(T.prior, B @ D, atol=1e-12)                      # Assumption 1(2) holds by construction
    assert np.isfinite(rhs) and t["W_d"] >= 0 and t["label_mismatch"] == 0     # permutation B: H = 0
    assert lhs <= t["loss_h3_on_T"] + RTOL * max(1.0, abs(lhs))                   # h_T optimal in a class holding h_R'''
    assert lhs <= rhs + RTOL * max(1.0, abs(rhs)), (seed, lhs, rhs)

@settings(**SETTINGS)
@given(st.integers(0, 10**6), st.floats(1.0, 10.0))
def test_larger_tau_only_loosens(seed, factor):
    h, R, D, B, A, T, c = theorem3_instance(seed)
    _, rhs, t = theorem3_sides(h, R, D, B, A, T, c)
    _, rhs_big, _ = theorem3_sides(h, R, D, B, A, T, c, tau=factor * t["lipschitz"])
    assert rhs_big >= rhs - 1e-12

@settings(**SETTINGS)
@given(st.integers(0, 10**5))
def test_equality_when_target_is_the_transformed_reference(seed):
    # h_R optimal on R', T = R''' exactly: every step of the chain is an equality
    lhs, rhs, t = theorem3_sides(*theorem3_instance(2 * seed, noise=0.0))
    np.testing.assert_allclose(lhs, rhs, rtol=0, atol=1e-9)
    assert t["W_d"] == 0.0

def test_hypothesis_finds_a_violation_when_tau_is_zero():
    # dropping the distribution-mismatch term (tau = 0) is not a valid bound: hypothesis must find a counterexample
    prop = settings(max_examples=200, deadline=None, database=None, derandomize=True)(given(st.integers(0, 10**6))(lambda seed: _assert(_holds(seed, tau=0.0))))
    with pytest.raises(AssertionError):
        prop()

def test_hypothesis_finds_a_violation_when_h_T_is_not_optimal():
    # a perturbed target probe at an instance where the bound is attained
    def prop(seed, eps):
        h, R, D, B, A, T, c = theorem3_instance(2 * seed, noise=0.0)
        hs = fit_linear_softmax(T)
        hT = LinearSoftmax(hs.W, hs.b + eps * np.eye(len(hs.b))[0])   # shift one class's logit (a common shift would change nothing)
        lhs, rhs, _ = theorem3_sides(h, R, D, B, A, T, c, h_T=hT)
        assert lhs <= rhs + RTOL * max(1.0, abs(rhs))
    run = settings(max_examples=50, deadline=None, database=None, derandomize=True)(given(st.integers(0, 10**4), st.floats(0.05, 1.0))(prop))
    with pytest.raises(AssertionError):
        run()

def test_priors_differ_gives_infinite_bound():
    h, R, D, B, A, T, c = theorem3_instance(0, noise=0.0)
    q = np.roll(T.prior, 1) if not np.allclose(T.prior, np.roll(T.prior, 1)) else np.r_[0.9, np.full(T.n_classes - 1, 0.1 / (T.n_classes - 1))]
    lhs, rhs, t = theorem3_sides(h, R, D, B, A, prior_transform(T, q), c)
    assert rhs == np.inf and t["W_d"] == np.inf and np.isfinite(lhs)

def test_bad_input_names_the_argument():
    h, R, D, B, A, T, c = theorem3_instance(1)
    K = R.n_classes
    with pytest.raises(ValueError, match="B: must be a permutation"):
        theorem3_sides(h, R, D, np.full((K, K), 1 / K), A, T, c)
    with pytest.raises(ValueError, match="T: expected a FiniteDistribution"):
        theorem3_sides(h, R, D, B, A, (T.z, T.y), c)
    with pytest.raises(ValueError, match=r"tau=nan"):
        theorem3_sides(h, R, D, B, A, T, c, tau=float("nan"))

def _assert(ok):
    assert ok
