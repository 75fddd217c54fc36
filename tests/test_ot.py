"""Bad input, closed forms and conventions of taskrel.ot (the worked examples live in nbs/04_ot.ipynb)."""
import numpy as np
import ot
import pytest
import torch
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays
from scipy.linalg import sqrtm

from taskrel.ot import (class_wasserstein, classwise_wasserstein, entropic_label_wasserstein, gaussian_mismatch,
                        label_coupling, label_wasserstein, sinkhorn_wasserstein, wasserstein)

rng = np.random.default_rng(0)
ZS, YS = rng.normal(size=(12, 3)), np.repeat([0, 1, 2], 4)
ZT, YT = rng.normal(size=(6, 3)) + 1, np.repeat([0, 1, 2], 2)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("fn", [label_wasserstein, label_coupling, classwise_wasserstein, entropic_label_wasserstein])
@pytest.mark.parametrize("kw,match", [
    (dict(zt=np.ones((6, 2))), r"zt: has 2 features but zs has 3"),
    (dict(yt=YT[:-1]), r"yt: has 5 labels but the features have 6 rows"),
    (dict(zs=np.where(np.eye(12, 3) > 0, np.nan, ZS)), r"zs: contains 3 NaN or infinite"),
    (dict(zt=np.where(np.eye(6, 3) > 0, np.inf, ZT)), r"zt: contains 3 NaN or infinite"),
    (dict(a=np.full(12, 0.1)), r"a: sums to 1\.2, not 1"),
    (dict(b=np.full(6, 1 / 5)), r"b: sums to 1\.2, not 1"),
    (dict(b=np.full(5, 1 / 5)), r"b: has 5 weights for 6 samples"),
    (dict(ys=YS - 1), r"ys: labels must be >= 0, found -1"),
    (dict(yt=YT + 0.5), r"yt: labels must be integers"),
    (dict(zs=ZS[:, 0]), r"zs: expected a 2-D array"),
])
def test_labelled_bad_input_names_the_argument(fn, kw, match):
    args = dict(zs=ZS, ys=YS, zt=ZT, yt=YT) | kw
    with pytest.raises(ValueError, match=match):
        fn(args.pop("zs"), args.pop("ys"), args.pop("zt"), args.pop("yt"), **args)


@pytest.mark.parametrize("call,match", [
    (lambda: wasserstein(ZS, ZT, p=3), r"p=3: only p=1"),
    (lambda: wasserstein(ZS, ZT[:, :2]), r"zt: has 2 features but zs has 3"),
    (lambda: sinkhorn_wasserstein(ZS, ZT, blur=0.0), r"blur=0\.0: must be positive"),
    (lambda: sinkhorn_wasserstein(ZS, ZT, scaling=1.5), r"scaling=1\.5: must lie in \(0, 1\)"),
    (lambda: gaussian_mismatch(ZS, ZT, lam=np.nan), r"lam=nan: must be a finite non-negative"),
    (lambda: gaussian_mismatch(ZS, ZT, a=np.ones(12)), r"a: sums to 12"),
    # a class that carries weight but has no samples on one side: its conditional is undefined
    (lambda: classwise_wasserstein(ZS, YS, ZT, np.zeros(6, int), class_weights="source"),
     r"class 1 has weight 0\.333 but no mass in the target sample"),
    (lambda: classwise_wasserstein(ZS, np.zeros(12, int), ZT, YT), r"class 1 has weight 0\.333 but no mass in the source sample"),
    (lambda: classwise_wasserstein(ZS, YS, ZT, YT, class_weights="prior"), r"class_weights='prior' is not one of"),
    (lambda: classwise_wasserstein(ZS, YS, ZT, YT, class_weights=[1, 0]), r"class_weights: expected 3 non-negative"),
    (lambda: label_coupling(ZS, YS, ZT, np.array([0, 0, 0, 1, 1, 2])), r"class masses differ .* \(W_d is infinite\)"),
])
def test_other_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---------------------------------------------------------------- closed forms, by hand
def test_one_dimensional_by_hand():
    # {0, 1} vs {0, 3}, uniform: the monotone matching 0-0, 1-3 costs (0 + 2) / 2
    np.testing.assert_allclose(wasserstein([[0.], [1.]], [[0.], [3.]]), 1.0, rtol=1e-12)
    # W_2 of the same: sqrt((0 + 4) / 2)
    np.testing.assert_allclose(wasserstein([[0.], [1.]], [[0.], [3.]], p=2), np.sqrt(2.0), rtol=1e-12)


def test_one_dimensional_weighted_matches_pot_sorting():
    r = np.random.default_rng(1)
    u, v = r.normal(size=20), r.exponential(size=13)
    wu, wv = r.dirichlet(np.ones(20)), r.dirichlet(np.ones(13))
    for p in (1, 2):
        want = ot.wasserstein_1d(u, v, wu, wv, p=p) ** (1 / p)
        np.testing.assert_allclose(wasserstein(u[:, None], v[:, None], wu, wv, p=p), want, rtol=1e-9)


@pytest.mark.parametrize("p", [1, 2])
def test_translation_costs_its_length(p):
    x = rng.normal(size=(25, 4)); c = np.array([1., 2., 2., 0.])              # ||c|| = 3
    np.testing.assert_allclose(wasserstein(x, x + c, p=p), 3.0, rtol=1e-10)


def test_gaussian_w2_closed_form():
    # a sample with empirical mean 0 and covariance S1, mapped by the Gaussian Monge map T: exact W_2 = Bures formula
    d, n = 2, 40
    S1, S2, m = np.array([[2., .5], [.5, 1.]]), np.array([[1., -.3], [-.3, .5]]), np.array([1., -2.])
    g = rng.normal(size=(n, d)); g -= g.mean(0)
    g = g @ np.linalg.inv(np.linalg.cholesky(np.cov(g.T, bias=True))).T
    r1 = np.real(sqrtm(S1)); xs = g @ r1
    T = np.linalg.inv(r1) @ np.real(sqrtm(r1 @ S2 @ r1)) @ np.linalg.inv(r1)
    xt = xs @ T + m
    bures2 = m @ m + np.trace(S1 + S2 - 2 * np.real(sqrtm(r1 @ S2 @ r1)))
    np.testing.assert_allclose(wasserstein(xs, xt, p=2) ** 2, bures2, rtol=1e-9)


def test_labels_forbid_cheap_cross_class_moves():
    # unlabelled, the two clouds coincide (W_1 = 0); with labels every point must travel 5
    zs, ys = np.array([[0.], [5.]]), np.array([0, 1])
    zt, yt = np.array([[5.], [0.]]), np.array([0, 1])
    assert wasserstein(zs, zt) == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(label_wasserstein(zs, ys, zt, yt), 5.0, rtol=1e-12)


def test_priors_differ_gives_inf_not_a_big_number():
    assert label_wasserstein(ZS, YS, ZT, np.array([0, 0, 0, 1, 1, 2])) == float("inf")
    assert entropic_label_wasserstein(ZS, YS, ZT, np.array([0, 0, 0, 1, 1, 2])) == float("inf")


def test_coupling_marginals_blocks_and_cost():
    a = rng.dirichlet(np.ones(12))
    prior = np.bincount(YS, weights=a)
    b = np.array([.3, .7, .5, .5, .1, .9]) * prior[YT]                        # class masses equal to a's
    P = label_coupling(ZS, YS, ZT, YT, a, b)
    np.testing.assert_allclose(P.sum(1), a, atol=1e-12)
    np.testing.assert_allclose(P.sum(0), b, atol=1e-12)
    assert P.min() >= 0 and P[YS[:, None] != YT[None, :]].sum() == 0
    np.testing.assert_allclose((P * ot.dist(ZS, ZT, metric="euclidean")).sum(), label_wasserstein(ZS, YS, ZT, YT, a, b), rtol=1e-12)
    np.testing.assert_allclose(label_wasserstein(ZT, YT, ZS, YS, b, a), label_wasserstein(ZS, YS, ZT, YT, a, b), rtol=1e-12)


def test_classwise_uniform_and_per_class():
    zt = ZS + np.array([[3., 4., 0.]]) * (YS == 0)[:, None]                   # move only class 0, by 5
    per = class_wasserstein(ZS, YS, zt, YS)
    np.testing.assert_allclose([per[0], per[1], per[2]], [5, 0, 0], atol=1e-12)
    np.testing.assert_allclose(classwise_wasserstein(ZS, YS, zt, YS, class_weights="uniform"), 5 / 3, rtol=1e-12)
    np.testing.assert_allclose(classwise_wasserstein(ZS, YS, zt, YS, class_weights=[1, 0, 0]), 5.0, rtol=1e-12)


def test_gaussian_mismatch_by_hand():
    zs, zt = np.array([[0., 0.], [2., 0.]]), np.array([[0., 0.], [0., 2.]])
    # means (1, 0) vs (0, 1): 2; 1/n covariances diag(1, 0) vs diag(0, 1): Frobenius^2 = 2
    np.testing.assert_allclose(gaussian_mismatch(zs, zt, lam=0.5), 2 + 0.5 * 2, rtol=1e-12)
    np.testing.assert_allclose(gaussian_mismatch(zs, zt, lam=0.0), 2.0, rtol=1e-12)


def test_numpy_and_torch_inputs_agree():
    t = torch.tensor
    assert label_wasserstein(t(ZS), t(YS), t(ZT), t(YT)) == label_wasserstein(ZS, YS, ZT, YT)
    assert gaussian_mismatch(t(ZS), t(ZT)) == gaussian_mismatch(ZS, ZT)
    assert wasserstein(t(ZS).float(), ZT) == pytest.approx(wasserstein(ZS, ZT), rel=1e-6)


# ---------------------------------------------------------------- geomloss conventions, pinned against POT
def _pot_sinkhorn_divergence(x, y, a, b, eps, cost):
    def ot_eps(u, v, wu, wv):
        C = cost(u, v); P = ot.sinkhorn(wu, wv, C, eps, numItermax=100_000, stopThr=1e-12)
        R = np.outer(wu, wv); nz = P > 0
        return (P * C).sum() + eps * (P[nz] * np.log(P[nz] / R[nz])).sum()
    return ot_eps(x, y, a, b) - (ot_eps(x, x, a, a) + ot_eps(y, y, b, b)) / 2


@pytest.mark.parametrize("p,blur,cost", [
    (1, 0.6, lambda u, v: ot.dist(u, v, metric="euclidean")),          # p=1: cost |x-y|, eps = blur
    (2, 0.8, lambda u, v: ot.dist(u, v) / 2),                            # p=2: cost |x-y|^2 / 2, eps = blur^2
])
def test_geomloss_conventions(p, blur, cost):
    r = np.random.default_rng(2)
    x, y = r.normal(size=(15, 2)), r.normal(size=(10, 2)) + .5
    a, b = r.dirichlet(np.ones(15)), r.dirichlet(np.ones(10))
    want = _pot_sinkhorn_divergence(x, y, a, b, blur ** p, cost)
    got = sinkhorn_wasserstein(x, y, a, b, p=p, blur=blur, scaling=0.99) ** p / p   # undo the documented rescaling (W_p, from p * divergence)
    np.testing.assert_allclose(got, want, rtol=5e-4)


@pytest.mark.parametrize("p,rtol", [(1, 1e-2), (2, 2e-3)])
def test_sinkhorn_tends_to_exact_ot(p, rtol):
    r = np.random.default_rng(3)
    x, y = r.normal(size=(30, 2)), r.normal(size=(25, 2)) * 2 + 1
    exact = wasserstein(x, y, p=p)                      # both return W_p itself
    np.testing.assert_allclose(sinkhorn_wasserstein(x, y, p=p, blur=0.003, scaling=0.99), exact, rtol=rtol)


# ---------------------------------------------------------------- properties
@st.composite
def three_with_same_prior(draw):
    K = draw(st.integers(1, 3))
    counts = draw(st.lists(st.integers(1, 4), min_size=K, max_size=K))
    y = np.repeat(np.arange(K), counts)
    pts = lambda: draw(arrays(np.float64, (len(y), 2), elements=st.floats(-10, 10, allow_nan=False)))
    return y, pts(), pts(), pts()


@settings(max_examples=60, deadline=None, derandomize=True)
@given(three_with_same_prior())
def test_label_wasserstein_is_a_metric(inst):
    y, x1, x2, x3 = inst
    d12, d23, d13 = label_wasserstein(x1, y, x2, y), label_wasserstein(x2, y, x3, y), label_wasserstein(x1, y, x3, y)
    assert d13 <= d12 + d23 + 1e-9                                            # triangle inequality
    assert abs(d12 - label_wasserstein(x2, y, x1, y)) <= 1e-9 and d12 >= 0   # symmetry, non-negativity
    assert label_wasserstein(x1, y, x1, y) == pytest.approx(0.0, abs=1e-12)
    # and it never undercuts the label-free W_1
    assert wasserstein(x1, x2) <= d12 + 1e-9
