"""taskrel.metrics: bad input, no mutation, invariances, numpy/torch agreement, bounds, and independent reference
implementations (written from the papers' formulas, not from the package) that the eight metrics must match."""
import math
import numpy as np
import pytest
import scipy.linalg
import scipy.optimize
import scipy.spatial.distance
import scipy.special
import scipy.stats
import torch
import ot
from hypothesis import given, settings, strategies as st, HealthCheck
from taskrel.metrics import logme, leep, nce, hscore, pactran, sfda, ot_nce, otce, ot_coupling
from taskrel.ot import OTNotConverged
from metric_data import blobs, soft, low_rank

FEATURE_METRICS = {"logme": logme, "hscore": hscore, "sfda": sfda, "pactran": pactran}


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("name", FEATURE_METRICS)
def test_feature_metrics_reject_bad_input(name):
    f = FEATURE_METRICS[name]
    F, y = blobs(12, 3, 2)
    bad = F.copy(); bad[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"features: contains 1 NaN"): f(bad, y)
    bad[3, 1] = np.inf
    with pytest.raises(ValueError, match=r"features: contains 1 NaN or infinite"): f(bad, y)
    with pytest.raises(ValueError, match=r"features: expected a 2-D array"): f(F[:, 0], y)
    with pytest.raises(ValueError, match=r"labels: has 11 labels but the features have 12 rows"): f(F, y[:-1])
    with pytest.raises(ValueError, match=r"labels: has 1 distinct class"): f(F, np.zeros(12, int))
    with pytest.raises(ValueError, match=r"all 12 rows are identical"): f(np.ones((12, 3)), y)
    with pytest.raises(ValueError, match=r"labels must be >= 0"): f(F, y - 1)
    with pytest.raises(ValueError, match=r"labels must be integers"): f(F, y + 0.5)
    with pytest.raises(ValueError, match=r"features: contains 1 NaN"): f(torch.from_numpy(np.where(np.arange(36).reshape(12, 3) == 5, np.nan, F)), y)


def test_single_sample_class_is_allowed():
    F, y = blobs(31, 4, 3)
    y[0] = 7                                  # class 7 has exactly one sample
    for name, f in FEATURE_METRICS.items(): assert math.isfinite(f(F, y)), name
    assert math.isfinite(leep(soft(31, 5), y)) and math.isfinite(nce(np.arange(31) % 4, y))


def test_leep_rejects_non_probabilities():
    y = np.arange(10) % 2
    with pytest.raises(ValueError, match=r"source_probs: has negative entries"): leep(soft(10, 3) - 0.5, y)
    with pytest.raises(ValueError, match=r"source_probs: a row sums to 1 \+- 1"): leep(2 * soft(10, 3), y)
    with pytest.raises(ValueError, match=r"source_probs: expected a 2-D array"): leep(soft(10, 3)[:, 0], y)
    with pytest.raises(ValueError, match=r"labels: has 1 distinct class"): leep(soft(10, 3), np.ones(10, int))


def test_nce_and_ot_reject_bad_input():
    with pytest.raises(ValueError, match=r"labels: has 3 entries but source_labels has 4"): nce([0, 1, 2, 3], [0, 1, 0])
    with pytest.raises(ValueError, match=r"labels: has 1 distinct class"): nce([0, 1, 2, 3], [1, 1, 1, 1])
    with pytest.raises(ValueError, match=r"source_labels: labels must be integers"): nce([0.5, 1, 2, 3], [0, 1, 0, 1])
    Z = np.random.default_rng(0).normal(size=(6, 2))
    with pytest.raises(ValueError, match=r"zt: has 3 features but zs has 2"): ot_nce(Z, [0, 1] * 3, np.ones((6, 3)), [0, 1] * 3)
    with pytest.raises(ValueError, match=r"ys: has 5 labels but the features have 6 rows"): ot_nce(Z, [0, 1, 0, 1, 0], Z, [0, 1] * 3)
    with pytest.raises(ValueError, match=r"yt: has 1 distinct class"): otce(Z, [0, 1] * 3, Z, [2] * 6)
    with pytest.raises(ValueError, match=r"zs: contains 1 NaN"): ot_nce(np.vstack([Z[:5], [np.nan, 0]]), [0, 1] * 3, Z, [0, 1] * 3)
    with pytest.raises(ValueError, match=r"lambdas: expected three numbers"): otce(Z, [0, 1] * 3, Z, [0, 1] * 3, lambdas=(1, 2, 3, 4))
    with pytest.raises(ValueError, match=r"lambdas: expected three numbers"): otce(Z, [0, 1] * 3, Z, [0, 1] * 3, lambdas="abc")


def test_ot_raises_when_the_simplex_stops_early():
    Zs, ys = blobs(80, 3, 2, seed=1); Zt, yt = blobs(70, 3, 2, seed=2)   # unequal sizes: POT's network simplex
    with pytest.raises(OTNotConverged, match=r"raise max_iter \(now 5\)"): ot_nce(Zs, ys, Zt, yt, max_iter=5)
    with pytest.raises(OTNotConverged): otce(Zs, ys, Zt, yt, max_iter=5)
    assert math.isfinite(ot_nce(Zs, ys, Zt, yt))                       # the default cap is enough


def test_ot_equal_sizes_need_no_iteration_cap():
    Zs, ys = blobs(80, 3, 2, seed=1); Zt, yt = blobs(80, 3, 2, seed=2)   # equal sizes: an assignment problem, solved exactly
    np.testing.assert_allclose(ot_nce(Zs, ys, Zt, yt, max_iter=5), ot_nce(Zs, ys, Zt, yt), rtol=0, atol=0)


def test_leep_names_nan_and_inf():
    for bad in (np.nan, np.inf, -np.inf):
        P = soft(10, 3); P[4, 1] = bad
        with pytest.raises(ValueError, match=r"source_probs: contains 1 NaN or infinite"): leep(P, np.arange(10) % 2)
        with pytest.raises(ValueError, match=r"source_probs: contains 1 NaN or infinite"): leep(torch.from_numpy(P), np.arange(10) % 2)


# ---------------------------------------------------------------- inputs are never modified
def _all_calls(F, y, P, z, Zs, ys):
    return [lambda: logme(F, y), lambda: logme(F, y, exact_logdet=True), lambda: hscore(F, y), lambda: sfda(F, y),
            lambda: pactran(F, y, n_per_class=10), lambda: pactran(F, y), lambda: leep(P, y), lambda: nce(z, y),
            lambda: ot_nce(Zs, ys, F, y), lambda: otce(Zs, ys, F, y)]


@pytest.mark.parametrize("kind", ["numpy64", "numpy32", "torch64", "torch32"])
def test_inputs_are_never_modified(kind):
    F, y = blobs(40, 5, 4, 0.8); Zs, ys = blobs(30, 5, 3, 0.8, seed=3)
    P, z = soft(40, 6), np.arange(40) % 6
    conv = {"numpy64": lambda a: a.copy(), "numpy32": lambda a: a.astype(np.float32) if a.dtype.kind == "f" else a.copy(),
            "torch64": lambda a: torch.tensor(a), "torch32": lambda a: torch.tensor(a, dtype=torch.float32) if a.dtype.kind == "f" else torch.tensor(a)}[kind]
    args = [conv(a) for a in (F, y, P, z, Zs, ys)]
    before = [a.clone() if isinstance(a, torch.Tensor) else a.copy() for a in args]
    for call in _all_calls(*args): call()
    for a, b in zip(args, before):
        assert (torch.equal(a, b) if isinstance(a, torch.Tensor) else np.array_equal(a, b)), kind


def test_read_only_and_strided_numpy_inputs_work():
    F, y = blobs(40, 8, 4, 0.8)
    ro = F.copy(); ro.flags.writeable = False
    assert logme(ro, y) == logme(F, y)
    np.testing.assert_allclose(hscore(F[::-1], y[::-1]), hscore(F, y), rtol=1e-10)   # negative strides
    np.testing.assert_allclose(sfda(F[:, ::2], y), sfda(np.ascontiguousarray(F[:, ::2]), y), rtol=1e-12)


# ---------------------------------------------------------------- numpy and torch agree
@pytest.mark.parametrize("name", FEATURE_METRICS)
def test_numpy_and_torch_agree(name):
    f = FEATURE_METRICS[name]
    F, y = blobs(60, 6, 3, 0.6, seed=4)
    a = f(F, y)
    np.testing.assert_allclose(f(torch.from_numpy(F), torch.from_numpy(y)), a, rtol=1e-10, atol=1e-12)
    F32 = F.astype(np.float32)   # a float32 tensor is promoted: same number as numpy on the float32-rounded values
    np.testing.assert_allclose(f(torch.from_numpy(F32), y), f(F32.astype(np.float64), y), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(f(torch.from_numpy(F32), y), a, rtol=1e-3, atol=1e-5)


def test_numpy_and_torch_agree_for_label_and_ot_metrics():
    P, y, z = soft(50, 7, seed=5), np.arange(50) % 3, np.arange(50) % 5
    np.testing.assert_allclose(leep(torch.from_numpy(P), torch.from_numpy(y)), leep(P, y), rtol=1e-12)
    assert nce(torch.from_numpy(z), torch.from_numpy(y)) == nce(z, y)
    Zs, ys = blobs(30, 4, 3, seed=6); Zt, yt = blobs(25, 4, 2, seed=7)
    np.testing.assert_allclose(otce(torch.from_numpy(Zs), ys, torch.from_numpy(Zt), yt), otce(Zs, ys, Zt, yt), rtol=1e-10)


# ---------------------------------------------------------------- invariances
@pytest.mark.parametrize("name", FEATURE_METRICS)
def test_feature_metrics_ignore_sample_order_and_class_ids(name):
    f = FEATURE_METRICS[name]
    F, y = blobs(90, 5, 3, 0.7, seed=8)
    perm = np.random.default_rng(9).permutation(90)
    ids = np.array([40, 3, 17])[y]
    ref = f(F, y)
    tol = dict(rtol=1e-5, atol=1e-6) if name == "pactran" else dict(rtol=1e-9, atol=1e-10)   # PACTran: L-BFGS-B tol=1e-6
    np.testing.assert_allclose(f(F[perm], y[perm]), ref, **tol)
    np.testing.assert_allclose(f(F, ids), ref, **tol)


def test_label_metrics_ignore_sample_order_and_ids():
    P, y = soft(70, 5, seed=10), np.random.default_rng(11).integers(0, 4, 70)
    perm, cols = np.random.default_rng(12).permutation(70), np.random.default_rng(13).permutation(5)
    ref = leep(P, y)
    np.testing.assert_allclose(leep(P[perm], y[perm]), ref, rtol=1e-12)
    np.testing.assert_allclose(leep(P[:, cols], y), ref, rtol=1e-12)
    np.testing.assert_allclose(leep(P, 10 - y), ref, rtol=1e-12)
    z = P.argmax(1)
    np.testing.assert_allclose(nce(z[perm], y[perm]), nce(z, y), rtol=1e-13)
    np.testing.assert_allclose(nce(100 + 3 * z, 9 - y), nce(z, y), rtol=1e-13)


def test_hscore_invariant_to_invertible_linear_maps():
    F, y = blobs(150, 7, 4, seed=14)
    A = np.random.default_rng(15).normal(size=(7, 7)) + 3 * np.eye(7)
    np.testing.assert_allclose(hscore(F @ A + 5.0, y), hscore(F, y), rtol=1e-8)


def test_ot_metrics_invariances():
    Zs, ys = blobs(40, 3, 3, 1.5, seed=16); Zt, yt = blobs(35, 3, 2, 1.5, seed=17)
    ref_nce, (_, W) = ot_nce(Zs, ys, Zt, yt), ot_coupling(Zs, Zt)
    ps, pt = np.random.default_rng(18).permutation(40), np.random.default_rng(19).permutation(35)
    np.testing.assert_allclose(ot_nce(Zs[ps], ys[ps], Zt[pt], yt[pt]), ref_nce, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ot_nce(Zs + 7.0, 5 + ys, Zt + 7.0, 2 * yt), ref_nce, rtol=1e-9, atol=1e-12)   # joint translation, relabelling
    np.testing.assert_allclose(ot_nce(0.01 * Zs, ys, 0.01 * Zt, yt), ref_nce, rtol=1e-9, atol=1e-12)
    l1, l2, l3 = -0.3, -2.0, 0.7
    np.testing.assert_allclose(otce(Zs, ys, Zt, yt, lambdas=(l1, l2, l3)), l1 * W - l2 * ref_nce + l3, rtol=1e-12)


# ---------------------------------------------------------------- bounds (property tests)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(2, 5), st.integers(1, 6), st.integers(20, 60), st.integers(0, 10_000))
def test_nce_and_leep_bounds(k, c, n, seed):
    r = np.random.default_rng(seed)
    y = np.r_[np.arange(k), r.integers(0, k, n - k)]
    z = r.integers(0, c, n)
    h_y = scipy.stats.entropy(np.bincount(y) / n)
    v = nce(z, y)
    assert -h_y - 1e-12 <= v <= 1e-12          # conditioning cannot raise entropy: -H(Y) <= -H(Y|Z) <= 0
    assert leep(soft(n, c, seed), y) <= 1e-12


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(2, 5), st.integers(2, 6), st.integers(0, 10_000), st.floats(0.0, 3.0))
def test_hscore_sfda_ot_nce_bounds(k, d, seed, sep):
    F, y = blobs(12 * k + 3 * d, d, k, sep, seed)
    h = hscore(F, y)
    assert -1e-9 <= h <= k - 1 + 1e-9           # between-class covariance is dominated by the total covariance
    assert 0 < sfda(F, y) <= 1
    Zs, ys = blobs(20, d, 3, sep, seed + 1)
    assert -math.log(k) - 1e-12 <= ot_nce(Zs, ys, F[:25], y[:25]) <= 1e-12


# ---------------------------------------------------------------- independent references
def _ref_logme_fixed_point(F, y):
    "The authors' fixed-point LogME, one class at a time, with the N x k matrix U formed explicitly."
    F = np.asarray(F, float); N, D = F.shape
    if N > D:                                   # full SVD of the Gram matrix, as thuml/LogME's truncated_svd
        _, s, Vt = np.linalg.svd(F.T @ F); s = np.sqrt(s)
        k = int((s > 1e-10).sum()); s, V = s[:k], Vt[:k].T; U = F @ V / s
    else:
        U, s, _ = np.linalg.svd(F, full_matrices=False)
    sig = s ** 2; out = []
    for c in np.unique(y):
        yc = (y == c).astype(float); x2 = (U.T @ yc) ** 2; rest = yc @ yc - x2.sum()
        a = b = 1.0
        for _ in range(11):
            t = a / b
            gam = (sig / (sig + t)).sum(); m2 = (sig * x2 / (t + sig) ** 2).sum(); r2 = (x2 / (1 + sig / t) ** 2).sum() + rest
            a, b = gam / (m2 + 1e-5), (N - gam) / (r2 + 1e-5)
            if abs(a / b - t) / t <= 1e-3: break
        out.append((D / 2 * np.log(a) + N / 2 * np.log(b) - 0.5 * np.log(a + b * sig).sum() - b / 2 * r2 - a / 2 * m2
                    - N / 2 * np.log(2 * np.pi)) / N)
    return np.mean(out)


@pytest.mark.parametrize("n,d,k", [(100, 10, 4), (40, 40, 3), (25, 60, 5), (300, 3, 7)])
def test_logme_matches_a_per_class_reference(n, d, k):
    F, y = blobs(n, d, k, 0.6, seed=n)
    np.testing.assert_allclose(logme(F, y), _ref_logme_fixed_point(F, y), rtol=1e-9, atol=1e-11)


def test_logme_exact_logdet_is_the_maximum_evidence_for_n_below_d():
    F, y = blobs(20, 35, 2, 0.8, seed=21)
    def neg(p, v): return -scipy.stats.multivariate_normal(np.zeros(20), F @ F.T / np.exp(p[0]) + np.eye(20) / np.exp(p[1])).logpdf(v)
    best = np.mean([scipy.optimize.minimize(neg, [0., 0.], args=((y == c) * 1.0,), method="Nelder-Mead",
                                            options=dict(xatol=1e-9, fatol=1e-12, maxiter=5000)).fun for c in (0, 1)]) / 20
    np.testing.assert_allclose(logme(F, y, exact_logdet=True), -best, atol=1e-3)   # the solver's 1e-3 stopping rule
    assert logme(F, y) > logme(F, y, exact_logdet=True) + 0.1                       # official log|A| drops (D - N) log(alpha)


def _max_log_evidence(F, y):
    "Brute force: per class, a 61 x 61 grid over (log alpha, log beta) refined by Nelder-Mead, of the closed-form log evidence / N."
    N, D = F.shape
    U, s, _ = np.linalg.svd(F, full_matrices=False)
    sig = np.r_[s ** 2, np.zeros(D - len(s))]
    out = []
    for c in np.unique(y):
        v = (y == c) * 1.0; x2 = np.r_[(U.T @ v) ** 2, np.zeros(D - len(s))]; rest = max(v @ v - x2.sum(), 0.0)
        def ev(p):
            a, b = np.exp(p); t = a / b
            m2, r2 = (sig * x2 / (t + sig) ** 2).sum(), (x2 * (t / (t + sig)) ** 2).sum() + rest
            return (D * p[0] + N * p[1] - np.log(a + b * sig).sum() - b * r2 - a * m2 - N * np.log(2 * np.pi)) / (2 * N)
        grid = [(ev(np.array([la, lb])), la, lb) for la in np.linspace(-5, 25, 61) for lb in np.linspace(-5, 25, 61)]
        _, la, lb = max(grid)
        out.append(-scipy.optimize.minimize(lambda p: -ev(p), [la, lb], method="Nelder-Mead", options=dict(xatol=1e-10, fatol=1e-14)).fun)
    return np.mean(out)


@pytest.mark.parametrize("n,d,r,dead", [(1000, 128, 20, 0), (1000, 128, 20, 10), (500, 64, 5, 3), (300, 64, 40, 0),
                                        (128, 128, 20, 0), (100, 128, 20, 0), (60, 200, 10, 5)])
def test_logme_on_rank_deficient_features(n, d, r, dead):
    F, y = low_rank(n, d, r, 4, dead=dead)
    default, exact, brute = logme(F, y), logme(F, y, exact_logdet=True), _max_log_evidence(F, y)
    np.testing.assert_allclose(exact, brute, atol=1e-3)            # the authors' stopping rule and epsilon
    if n >= d: np.testing.assert_allclose(default, exact, rtol=0, atol=1e-12)  # every direction of F^T F is kept
    else: assert default - exact > 0.5                              # the (D - N) zero eigenvalues are left out


def test_logme_brute_force_is_the_gaussian_maximum_likelihood():
    F, y = blobs(25, 40, 2, 0.8, seed=30)                 # the brute force's closed form against scipy's Gaussian density
    def neg(p, v): return -scipy.stats.multivariate_normal(np.zeros(25), F @ F.T / np.exp(p[0]) + np.eye(25) / np.exp(p[1])).logpdf(v)
    best = [scipy.optimize.minimize(neg, [0., 0.], args=((y == c) * 1.0,), method="Nelder-Mead",
                                    options=dict(xatol=1e-9, fatol=1e-12, maxiter=5000)).fun for c in (0, 1)]
    np.testing.assert_allclose(_max_log_evidence(F, y), -np.mean(best) / 25, atol=1e-8)


def _ref_leep(P, y):
    "LEEP by explicit sums over samples, target classes and source classes."
    N, C = P.shape; ks = sorted(set(y))
    joint = {(t, z): sum(P[i, z] for i in range(N) if y[i] == t) / N for t in ks for z in range(C)}
    pz = [sum(joint[(t, z)] for t in ks) for z in range(C)]
    return np.mean([math.log(sum(joint[(y[i], z)] / pz[z] * P[i, z] for z in range(C) if pz[z] > 0)) for i in range(N)])


def test_leep_matches_explicit_sums_and_handles_unused_source_classes():
    P, y = soft(30, 4, seed=22), np.random.default_rng(23).integers(0, 3, 30)
    np.testing.assert_allclose(leep(P, y), _ref_leep(P, y), rtol=1e-12)
    P0 = np.c_[P, np.zeros(30)]                         # a source class never predicted: 0/0 in the official code
    np.testing.assert_allclose(leep(P0, y), leep(P, y), rtol=1e-13)


def test_nce_matches_entropy_of_groups():
    r = np.random.default_rng(24); z, y = r.integers(0, 4, 80), r.integers(0, 3, 80)
    ref = -sum((z == g).mean() * scipy.stats.entropy(np.bincount(y[z == g], minlength=3)) for g in np.unique(z))
    np.testing.assert_allclose(nce(z, y), ref, rtol=1e-12)


@settings(max_examples=20, deadline=None)
@given(st.integers(2, 5), st.integers(1, 8), st.integers(0, 10_000))
def test_hscore_matches_bao_formula(k, d, seed):
    F, y = blobs(10 * k + 2 * d, d, k, 0.5, seed)
    cov = lambda X: np.cov(X.T, ddof=1).reshape(d, d)
    g = np.stack([F[y == c].mean(0) for c in range(k)])[y]
    ref = np.trace(np.linalg.pinv(cov(F), rcond=1e-15) @ cov(g))
    np.testing.assert_allclose(hscore(F, y), ref, rtol=1e-8, atol=1e-10)


def _ref_sfda(X, y):
    "SFDA through the generalised eigenproblem of the Fisher criterion (all eigenvectors), ConfMix on a copy."
    X = np.array(X, float); cls = np.unique(y); K, (N, D) = len(cls), X.shape
    def fit(X, eps=None):
        pri = np.array([(y == c).mean() for c in cls]); mu = np.array([X[y == c].mean(0) for c in cls])
        Sw = sum(p * np.cov(X[y == c].T, bias=True).reshape(D, D) for p, c in zip(pri, cls))
        if eps is None:
            v = Sw.sum(1)
            for _ in range(3):
                u = Sw @ v; u /= np.linalg.norm(u); v = Sw @ u; v /= np.linalg.norm(v)
            eps = max(np.exp(-5 * v @ Sw @ u), 1e-10)
        St = np.cov(X.T, bias=True).reshape(D, D)
        shrink = lambda S: (1 - eps) * S + eps * np.trace(S) / D * np.eye(D)
        w, V = scipy.linalg.eigh(shrink(St) - shrink(Sw), shrink(Sw))
        coef = mu @ V @ V.T
        return scipy.special.softmax(X @ coef.T - 0.5 * np.sum(mu * coef, 1) + np.log(pri), axis=1), eps, mu
    p, eps, mu = fit(X)
    p = scipy.special.softmax(p, axis=1)
    others = (mu.sum(0) - mu) / (K - 1)
    idx = np.searchsorted(cls, y)
    q = p[np.arange(N), idx][:, None]
    X = q * X + (1 - q) * others[idx]
    return fit(X, eps)[0][np.arange(N), idx].mean()


@pytest.mark.parametrize("scale", [0.05, 1.0, 20.0])
def test_sfda_matches_the_fisher_eigen_route(scale):
    F, y = blobs(120, 6, 4, 0.8, seed=25)
    np.testing.assert_allclose(sfda(scale * F, y), _ref_sfda(scale * F, y), rtol=1e-8)


def _ref_pactran(F, y, lda_factor=10.0, s2_factor=100.0, rng=None):
    "PACTran-Gaussian with separate objective and gradient functions, the Hessian diagonal summed entry by entry."
    X = F - F.mean(0); N, D = X.shape; K = y.max() + 1; Y = np.eye(K)[y]; lam = lda_factor * N
    unpack = lambda th: (th.reshape(D + 1, K)[:D], th.reshape(D + 1, K)[D:])
    def loss(th):
        W, b = unpack(th); Z = X @ W + b
        return -(Y * (Z - scipy.special.logsumexp(Z, 1, keepdims=True))).sum() / N + (W ** 2).sum() / (2 * lam)
    def grad(th):
        W, b = unpack(th); G = (scipy.special.softmax(X @ W + b, 1) - Y) / N
        return np.concatenate([X.T @ G + W / lam, G.sum(0, keepdims=True)]).ravel()
    rng = np.random.default_rng(0) if rng is None else rng
    th0 = np.concatenate([rng.normal(size=(D, K)) * 0.03, np.zeros((1, K))]).ravel()
    th = scipy.optimize.minimize(loss, th0, jac=grad, method="L-BFGS-B", options=dict(maxiter=100), tol=1e-6).x
    W, b = unpack(th); p = scipy.special.softmax(X @ W + b, 1); h2 = p - p ** 2
    diag = np.concatenate([(X ** 2).T @ h2 + 1 / lam, h2.sum(0, keepdims=True)])
    return loss(th) + 0.5 * D * K / lam * (s2_factor / D) * np.log(diag.sum() * lam / (D * K) + 1e-10)


@pytest.mark.parametrize("n,d,k", [(120, 5, 3), (60, 20, 4)])
def test_pactran_matches_a_separate_jacobian_reference(n, d, k):
    F, y = blobs(n, d, k, 0.7, seed=26)
    np.testing.assert_allclose(pactran(F, y), _ref_pactran(F, y), rtol=1e-7)
    np.testing.assert_allclose(pactran(F, y, lda_factor=1.0, sigma2=10.0 / d), _ref_pactran(F, y, 1.0, 10.0), rtol=1e-7)


def test_pactran_subsample_draws_n_per_class_times_k_points():
    F, y = blobs(400, 4, 4, 0.7, seed=27)
    rng = np.random.default_rng(5)                       # one generator: the subsample first, then the initial head
    idx = np.sort(rng.permutation(400)[:40])
    ref = _ref_pactran(F[idx], np.unique(y[idx], return_inverse=True)[1], rng=rng)
    np.testing.assert_allclose(pactran(F, y, n_per_class=10, seed=5), ref, rtol=1e-7)
    assert pactran(F, y, n_per_class=1000) == pactran(F, y)      # more than N asked: all samples


@pytest.mark.parametrize("nt", [30, 35])                   # unequal sizes (network simplex) and equal sizes (assignment)
def test_ot_metrics_match_explicit_class_pair_sums(nt):
    Zs, ys = blobs(35, 4, 3, 1.0, seed=28); Zt, yt = blobs(nt, 4, 4, 1.0, seed=29)
    C = scipy.spatial.distance.cdist(Zs, Zt, "sqeuclidean")
    P = ot.emd(np.full(35, 1 / 35), np.full(nt, 1 / nt), C, numItermax=10**7)
    J = np.array([[P[np.ix_(ys == a, yt == b)].sum() for b in range(4)] for a in range(3)])
    ce = -sum(J[a, b] * math.log(J[a, b] / J[a].sum()) for a in range(3) for b in range(4) if J[a, b] > 0)
    np.testing.assert_allclose(ot_nce(Zs, ys, Zt, yt), -ce, rtol=1e-9)
    np.testing.assert_allclose(otce(Zs, ys, Zt, yt), -1e-4 * ot.emd2(np.full(35, 1 / 35), np.full(nt, 1 / nt), C) - ce, rtol=1e-9)
    plan, W = ot_coupling(Zs, Zt)
    np.testing.assert_allclose(plan.toarray(), P, atol=1e-15)
