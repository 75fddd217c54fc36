"""Property-based versions of the checks in nbs/10_proofs.transforms.ipynb (Lemmas 1-3, Corollaries 1-3, Theorem 1),
and hypothesis finding counterexamples once an assumption is dropped."""
import numpy as np
import pytest
import hypothesis.extra.numpy as hnp
from hypothesis import HealthCheck, find, given, settings, strategies as st
from taskrel.transforms import (FiniteDistribution, LinearSoftmax, conditional_entropy, expected_loss, feature_transform,
    feature_transform_classifier, label_transform, label_transform_classifier, prior_transform)
from taskrel.proofs.transforms import (corollary1_sides, corollary2_sides, corollary3_sides, gradient_norm, lemma1_sides,
    lemma2_sides, lemma3_sides, random_label_map, theorem1_sides)

FAST = settings(max_examples=150, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
FITS = settings(max_examples=30, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
SEARCH = settings(max_examples=300, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
RTOL_EXACT, RTOL_A = 1e-12, 1e-9      # the notebook's tolerances: no feature map / with a feature map


def floats(lo, hi): return st.floats(lo, hi, allow_nan=False, allow_infinity=False, width=64)
def arr(shape, elements): return hnp.arrays(np.float64, shape, elements=elements)
def close(lhs, rhs, rtol): return abs(lhs - rhs) <= rtol * max(1.0, abs(rhs))


@st.composite
def label_maps(draw, K_T, K_R, kind):
    "A column-stochastic (K_T, K_R) B: permutation, deterministic (one 1 per column) or general (zeros allowed)."
    if kind == "permutation": return np.eye(K_R)[list(draw(st.permutations(range(K_R))))]
    targets = draw(hnp.arrays(np.int64, K_R, elements=st.integers(0, K_T - 1)))
    if kind == "deterministic": return np.eye(K_T)[:, targets]
    M = draw(arr((K_T, K_R), floats(0, 1)))
    M[targets, np.arange(K_R)] += 0.05                      # every column has mass
    return M / M.sum(0)


@st.composite
def invertible_maps(draw, d):
    "A = Q T: Q orthogonal (QR of a drawn matrix), T upper triangular with |diagonal| in [0.1, 10]: always invertible."
    Q, _ = np.linalg.qr(draw(arr((d, d), floats(-1, 1))) + 2 * np.eye(d))
    diag = draw(arr(d, floats(0.1, 10))) * draw(hnp.arrays(np.float64, d, elements=st.sampled_from([-1.0, 1.0])))
    return Q @ (np.triu(draw(arr((d, d), floats(-3, 3))), 1) + np.diag(diag))


@st.composite
def chains(draw, kind=None):
    "A reference distribution R, a probe h_R, a prior D, a label map B of the given kind, and an affine map (A, shift)."
    K_R, d, n = draw(st.integers(2, 5)), draw(st.integers(1, 3)), draw(st.integers(1, 10))
    kind = kind or draw(st.sampled_from(["general", "deterministic", "permutation"]))
    K_T = K_R if kind == "permutation" else draw(st.integers(1, K_R))
    w = draw(arr(n, floats(0.01, 1)))
    R = FiniteDistribution(draw(arr((n, d), floats(-4, 4))), draw(hnp.arrays(np.int64, n, elements=st.integers(0, K_R - 1))),
                           w / w.sum(), K_R)
    D = (draw(arr(K_R, floats(0, 1))) + 0.01) * (R.prior > 0)        # no mass where R has no samples
    h = LinearSoftmax(draw(arr((K_R, d), floats(-5, 5))), draw(arr(K_R, floats(-5, 5))))
    return dict(R=R, h=h, D=D / D.sum(), B=draw(label_maps(K_T, K_R, kind)), A=draw(invertible_maps(d)),
                shift=draw(arr(d, floats(-3, 3))), kind=kind)


@st.composite
def optimal_probe_cases(draw):
    "An R' on which the optimal probe exists: every feature vector carries every label with positive probability."
    K, d = draw(st.integers(2, 4)), draw(st.integers(1, 2))
    m = draw(st.integers(d + 1, 6))
    z = draw(arr((m, d), floats(-3, 3)))
    q = draw(arr((m, K), floats(0.05, 1))) * draw(arr(m, floats(0.05, 1)))[:, None]
    Rp = FiniteDistribution(np.repeat(z, K, 0), np.tile(np.arange(K), m), (q / q.sum()).ravel(), K)
    return Rp, draw(label_maps(K, K, "permutation")), draw(invertible_maps(d)), draw(arr(d, floats(-3, 3)))


# ---------------------------------------------------------------- the statements hold
@FAST
@given(chains())
def test_lemma1_equality(c):
    lhs, rhs = lemma1_sides(c["h"], c["R"], c["D"])
    assert close(lhs, rhs, RTOL_EXACT), (lhs, rhs)


@FAST
@given(chains())
def test_lemma2_inequality(c):
    lhs, rhs = lemma2_sides(c["h"], prior_transform(c["R"], c["D"]), c["B"])
    assert lhs <= rhs + RTOL_EXACT * max(1.0, rhs), (lhs, rhs)


@FAST
@given(chains(kind="permutation"))
def test_lemma2_is_an_equality_for_permutations(c):
    lhs, rhs = lemma2_sides(c["h"], prior_transform(c["R"], c["D"]), c["B"])
    assert close(lhs, rhs, RTOL_EXACT), (lhs, rhs)


@FAST
@given(chains())
def test_lemma3_equality(c):
    Rpp = label_transform(prior_transform(c["R"], c["D"]), c["B"])
    lhs, rhs = lemma3_sides(label_transform_classifier(c["h"], c["B"]), Rpp, c["A"], c["shift"])
    assert close(lhs, rhs, RTOL_A), (lhs, rhs, np.linalg.cond(c["A"]))


@FAST
@given(chains())
def test_theorem1_inequality(c):
    lhs, rhs = theorem1_sides(c["h"], c["R"], c["D"], c["B"], c["A"], c["shift"])
    assert lhs <= rhs + RTOL_A * max(1.0, rhs), (lhs, rhs)


@FAST
@given(chains(kind="permutation"))
def test_corollary3_equality_for_permutations(c):
    lhs, rhs = corollary3_sides(c["h"], c["R"], c["D"], c["B"], c["A"], c["shift"])
    assert close(lhs, rhs, RTOL_A), (lhs, rhs)


@FITS
@given(optimal_probe_cases())
def test_corollary1_permuted_optimum_is_optimal(case):
    from taskrel.transforms import fit_linear_softmax
    Rp, P, _, _ = case
    h = fit_linear_softmax(Rp)
    lhs, rhs = corollary1_sides(h, Rp, P)
    assert close(lhs, rhs, RTOL_EXACT), (lhs, rhs)
    assert gradient_norm(label_transform_classifier(h, P), label_transform(Rp, P)) <= 1e-9


@FITS
@given(optimal_probe_cases())
def test_corollary2_moved_optimum_is_optimal(case):
    from taskrel.transforms import fit_linear_softmax
    Rpp, _, A, c = case
    h = fit_linear_softmax(Rpp)
    assert gradient_norm(feature_transform_classifier(h, A, c), feature_transform(Rpp, A, c)) <= 1e-9
    lhs, rhs = corollary2_sides(h, Rpp, A, c)
    assert close(lhs, rhs, RTOL_A), (lhs, rhs, np.linalg.cond(A))


# ---------------------------------------------------------------- hypothesis refutes the statements once an assumption goes
def test_hypothesis_refutes_corollary3_without_a_permutation():
    "Asserting Corollary 3's equality for a general column-stochastic B must fail, and hypothesis must find where."
    @SEARCH
    @given(chains(kind="general"))
    def corollary3_for_any_B(c):
        lhs, rhs = corollary3_sides(c["h"], c["R"], c["D"], c["B"], c["A"], c["shift"])
        assert close(lhs, rhs, 1e-6), (lhs, rhs)
    with pytest.raises(AssertionError):
        corollary3_for_any_B()


def test_deterministic_merge_breaks_corollary3_although_H_is_zero():
    "A deterministic B that merges classes has H = 0, yet Corollary 3's equality fails; Theorem 1 still holds there."
    def refutes(c):
        lhs, rhs = corollary3_sides(c["h"], c["R"], c["D"], c["B"], c["A"], c["shift"])
        return c["B"].shape[0] < c["B"].shape[1] and abs(lhs - rhs) > 1e-6
    c = find(chains(kind="deterministic"), refutes, settings=SEARCH)
    assert conditional_entropy(c["B"], c["D"]) == 0.0
    lhs, rhs_c3 = corollary3_sides(c["h"], c["R"], c["D"], c["B"], c["A"], c["shift"])
    _, rhs_t1 = theorem1_sides(c["h"], c["R"], c["D"], c["B"], c["A"], c["shift"])
    assert lhs < rhs_c3 - 1e-6 and rhs_t1 == rhs_c3           # strictly below: merging only removes loss


def test_hypothesis_refutes_lemma1_when_class_conditionals_change():
    "Lemma 1 needs P_R'(z|y) = P_R(z|y): tilting the weights inside a class (same class prior D) breaks the equality."
    def tilted(R, D):
        w = R.w * np.exp(R.z[:, 0])
        w = w * (D / np.maximum(np.bincount(R.y, weights=w, minlength=R.n_classes), 1e-300))[R.y]
        return FiniteDistribution(R.z, R.y, w / w.sum(), R.n_classes)
    def refutes(c):
        return abs(expected_loss(c["h"], tilted(c["R"], c["D"])) - lemma1_sides(c["h"], c["R"], c["D"])[1]) > 1e-6
    c = find(chains(), refutes, settings=SEARCH)
    np.testing.assert_allclose(tilted(c["R"], c["D"]).prior, prior_transform(c["R"], c["D"]).prior, rtol=0, atol=1e-12)


def test_hypothesis_refutes_lemma2_with_a_mismatched_classifier():
    "Lemma 2 pairs labels drawn with B and the classifier B h; a classifier built with another B' can break the bound."
    @st.composite
    def mismatched(draw):
        c = draw(chains(kind="general"))
        return c, draw(label_maps(*c["B"].shape, "general"))
    def refutes(cb):
        c, B_other = cb
        Rp = prior_transform(c["R"], c["D"])
        lhs = expected_loss(label_transform_classifier(c["h"], B_other), label_transform(Rp, c["B"]))
        return lhs > lemma2_sides(c["h"], Rp, c["B"])[1] + 1e-6
    c, B_other = find(mismatched(), refutes, settings=SEARCH)
    assert not np.allclose(B_other, c["B"])


def test_random_label_map_bad_kind():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="kind: a permutation needs K_T == K_R, got 2 and 3"): random_label_map(rng, 2, 3, "permutation")
    with pytest.raises(ValueError, match="kind: 'identity' is not one of"): random_label_map(rng, 2, 3, "identity")
