"""Bad input for every exported function of taskrel.transforms, and numpy/torch agreement (happy paths live in nbs/02_transforms.ipynb)."""
import warnings
import numpy as np
import pytest
import torch
from taskrel.transforms import (FiniteDistribution, LinearSoftmax, TransformedClassifier, as_linear_softmax, class_prior,
    conditional_entropy, cross_entropy, expected_loss, expected_loss_grad, feature_transform, feature_transform_classifier,
    fit_linear_softmax, has_recession_direction, is_permutation, label_transform, label_transform_classifier, prior_ratio,
    prior_transform, prior_transform_classifier, reweighted_loss, transform_classifier, transform_distribution)

rng = np.random.default_rng(0)
Z = rng.normal(size=(6, 2))
Y = np.array([0, 1, 2, 0, 1, 2])
R = FiniteDistribution(Z, Y, rng.dirichlet(np.ones(6)))
H = LinearSoftmax(rng.normal(size=(3, 2)), rng.normal(size=3))
B = np.array([[1., .5, 0.], [0., .5, 1.]])          # (K_T=2, K_R=3)
A = np.array([[2., 1.], [0., 1.]])
PROBS = np.array([[.7, .2, .1], [.1, .8, .1]])


# ---------------------------------------------------------------- FiniteDistribution, class_prior
@pytest.mark.parametrize("kwargs,fragment", [
    (dict(z=np.zeros((3, 2)), y=[0, 1]), "y: has 2 labels but the features have 3 rows"),
    (dict(z=np.zeros(3), y=[0, 1, 0]), "z: expected a 2-D array (n, d)"),
    (dict(z=np.zeros((0, 2)), y=[]), "z: has no rows"),
    (dict(z=[[0., np.inf]], y=[0]), "z: contains 1 NaN or infinite"),
    (dict(z=[[0., np.nan], [1., 1.]], y=[0, 1]), "z: contains 1 NaN or infinite"),
    (dict(z=np.zeros((2, 2)), y=[0, 1], w=[.5, .6]), "w: sums to 1.1"),
    (dict(z=np.zeros((2, 2)), y=[0, 1], w=[1.5, -.5]), "w: has negative entries"),
    (dict(z=np.zeros((2, 2)), y=[0, 1], w=[1.]), "w: has 1 weights for 2 samples"),
    (dict(z=np.zeros((2, 2)), y=[0, 1], w=[np.nan, 1.]), "w: contains 1 NaN"),
    (dict(z=np.zeros((2, 2)), y=[0, 3], n_classes=3), "label 3 out of range for 3 classes"),
    (dict(z=np.zeros((2, 2)), y=[0, -1]), "labels must be >= 0"),
    (dict(z=np.zeros((2, 2)), y=[0, .5]), "labels must be integers"),
    (dict(z=np.zeros((2, 2)), y=[0, 1], n_classes=0), "n_classes: must be a positive integer"),
    (dict(z=np.zeros((2, 2)), y=[0, 1], n_classes=2.5), "n_classes: must be a positive integer"),
])
def test_finite_distribution_bad_input(kwargs, fragment):
    with pytest.raises(ValueError) as e: FiniteDistribution(**kwargs)
    assert fragment in str(e.value)


def test_class_prior_bad_input():
    with pytest.raises(ValueError, match="y: has no labels"): class_prior([], 2)
    with pytest.raises(ValueError, match="label 2 out of range for 2 classes"): class_prior([0, 2], 2)
    with pytest.raises(ValueError, match="w: has 3 weights for 2 samples"): class_prior([0, 1], 2, [.2, .3, .5])
    np.testing.assert_allclose(class_prior([0, 0, 2], 4), [2 / 3, 0, 1 / 3, 0], rtol=0, atol=1e-15)


# ---------------------------------------------------------------- losses
@pytest.mark.parametrize("probs,y,fragment", [
    ([[2., -1.]], [0], "pass probabilities, not logits"),
    ([[.5, .4]], [0], "row 0 sums to 0.9"),
    ([.5, .5], [0], "expected a 2-D (n, K) matrix"),
    (np.zeros((0, 2)), [], "is empty"),
    ([[np.nan, 1.]], [0], "probs: contains 1 NaN"),
    ([[np.inf, 0.]], [0], "probs: contains 1 NaN or infinite"),
    ([[.5, .5]], [0, 1], "y: has 2 labels but the features have 1 rows"),
    ([[.5, .5]], [2], "label 2 out of range for 2 classes"),
])
def test_cross_entropy_bad_input(probs, y, fragment):
    with pytest.raises(ValueError) as e: cross_entropy(probs, y)
    assert fragment in str(e.value)


@pytest.mark.parametrize("C,w,fragment", [
    ([1., 1.], None, "C: expected one ratio per class, shape (3,)"),
    ([[1., 1., 1.]], None, "C: expected one ratio per class, shape (3,)"),
    ([1., -1., 1.], None, "C: has negative entries"),
    ([1., np.nan, 1.], None, "C: contains 1 NaN"),
    ([1., np.inf, 1.], None, "C: contains 1 NaN or infinite"),
    ([1., 1., 1.], [1.], "w: has 1 weights for 2 samples"),
    ([1., 1., 1.], [.6, .6], "w: sums to 1.2"),
])
def test_reweighted_loss_bad_input(C, w, fragment):
    with pytest.raises(ValueError) as e: reweighted_loss(PROBS, [0, 1], C, w)
    assert fragment in str(e.value)


def test_reweighted_loss_value_by_hand():
    # -(0.5 * 2 * log .7 + 0.5 * 0.5 * log .8): computed by hand from the definition
    np.testing.assert_allclose(reweighted_loss(PROBS, [0, 1], [2., .5, 9.]), -(np.log(.7) + .25 * np.log(.8)), rtol=1e-15)


@pytest.mark.parametrize("Bm,D,fragment", [
    (np.full((3, 2), 1 / 3), [.5, .5], "K_T=3 rows (target classes) but only K_R=2"),
    ([[.9, .2], [.2, .8]], [.5, .5], "column 0 sums to 1.1"),
    ([[1.2, 0.], [-.2, 1.]], [.5, .5], "B: has negative entries"),
    ([1., 1.], [.5, .5], "B: expected a 2-D (K_T, K_R) matrix"),
    ([[np.nan, 0.], [1., 1.]], [.5, .5], "B: contains 1 NaN"),
    ([[np.inf, 0.], [1., 1.]], [.5, .5], "B: contains 1 NaN or infinite"),
    (np.eye(2), [.5, .6], "D: sums to 1.1"),
    (np.eye(2), [1.5, -.5], "D: has negative entries"),
    (np.eye(2), [[.5, .5]], "D: a distribution must be 1-D"),
    (np.eye(2), [.2, .3, .5], "D: has 3 entries but B has 2 columns"),
    (np.eye(2), [np.nan, 1.], "D: contains 1 NaN"),
])
def test_conditional_entropy_bad_input(Bm, D, fragment):
    with pytest.raises(ValueError) as e: conditional_entropy(Bm, D)
    assert fragment in str(e.value)


def test_conditional_entropy_by_hand():
    # column entropies of [.9, .1] and [.2, .8] in nats, weighted by D = (.25, .75)
    h1, h2 = -(.9 * np.log(.9) + .1 * np.log(.1)), -(.2 * np.log(.2) + .8 * np.log(.8))
    np.testing.assert_allclose(conditional_entropy([[.9, .2], [.1, .8]], [.25, .75]), .25 * h1 + .75 * h2, rtol=1e-15)
    assert conditional_entropy([[1., 0., 1.], [0., 1., 0.]], [.2, .3, .5]) == 0.0        # deterministic merge: 0 log 0 = 0


def test_expected_loss_bad_input():
    with pytest.raises(ValueError, match="dist: expected a FiniteDistribution"): expected_loss(H, (Z, Y))
    with pytest.raises(ValueError, match="h: ndarray has no log_probs"): expected_loss(np.eye(3), R)
    with pytest.raises(ValueError, match="h: outputs 2 classes but dist has 3"): expected_loss(LinearSoftmax(np.zeros((2, 2))), R)
    with pytest.raises(ValueError, match="z: has 2 features but the probe expects d=3"): expected_loss(LinearSoftmax(np.zeros((3, 3))), R)


# ---------------------------------------------------------------- probes
@pytest.mark.parametrize("W,b,fragment", [
    (np.zeros(3), None, "W: expected a non-empty 2-D (K, d)"),
    (np.zeros((0, 2)), None, "W: expected a non-empty 2-D (K, d)"),
    (np.zeros((3, 2)), [0., 0.], "b: expected shape (3,)"),
    ([[np.nan, 0.]], None, "W: contains 1 NaN"),
    (np.zeros((1, 2)), [np.inf], "b: contains 1 NaN or infinite"),
])
def test_linear_softmax_bad_input(W, b, fragment):
    with pytest.raises(ValueError) as e: LinearSoftmax(W, b)
    assert fragment in str(e.value)


def test_probe_evaluation_bad_input():
    with pytest.raises(ValueError, match="z: has 3 features but the probe expects d=2"): H.probs(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="z: expected a 2-D array"): H.log_probs(np.zeros(2))
    with pytest.raises(ValueError, match="z: contains 1 NaN"): H.logits([[np.nan, 0.]])
    t = transform_classifier(H, B, A)
    with pytest.raises(ValueError, match="z: expected a 2-D array"): t.probs(np.zeros(2))


# ---------------------------------------------------------------- transformations of distributions
def test_prior_ratio_and_prior_transform_bad_input():
    with pytest.raises(ValueError, match="D: has 2 entries but the reference prior has 3 classes"): prior_ratio([.5, .5], [.2, .3, .5])
    with pytest.raises(ValueError, match="D: sums to 0.9"): prior_ratio([.4, .5], [.5, .5])
    with pytest.raises(ValueError, match="prior: sums to 0.9"): prior_ratio([.5, .5], [.4, .5])
    with pytest.raises(ValueError, match=r"D: puts mass 0.5 on class 1, which has no samples.*set D\[1\] = 0"):
        prior_ratio([.5, .5], [1., 0.])
    gap = FiniteDistribution(np.zeros((2, 1)), [0, 0], n_classes=2)          # class 1 has no samples
    with pytest.raises(ValueError, match="class 1, which has no samples"): prior_transform(gap, [.5, .5])
    with pytest.raises(ValueError, match="D: has 2 entries but the reference prior has 3"): prior_transform(R, [.5, .5])
    with pytest.raises(ValueError, match="D: contains 1 NaN"): prior_transform(R, [np.nan, .5, .5])
    np.testing.assert_array_equal(prior_ratio([1., 0.], [1., 0.]), [1., 0.])   # a class absent on both sides is fine


def test_label_transform_bad_input():
    with pytest.raises(ValueError, match=r"B: has 2 columns but the reference side has 3 classes; B must have shape \(K_T, 3\)"):
        label_transform(R, np.eye(2))
    with pytest.raises(ValueError, match="K_T=4 rows .* only K_R=3 columns"): label_transform(R, np.full((4, 3), .25))
    with pytest.raises(ValueError, match="column 1 sums to 2"): label_transform(R, np.array([[1., 1., 0.], [0., 1., 1.]]))
    with pytest.raises(ValueError, match="B: contains 1 NaN"): label_transform(R, np.array([[1., np.nan, 0.], [0., 1., 1.]]))


def test_feature_transform_bad_input():
    with pytest.raises(ValueError, match=r"A: expected a square \(2, 2\) matrix .* got shape \(3, 3\)"): feature_transform(R, np.eye(3))
    with pytest.raises(ValueError, match=r"A: expected a square \(2, 2\)"): feature_transform(R, np.ones((2, 3)))
    with pytest.raises(ValueError, match="A: is singular to working precision"): feature_transform(R, [[1., 2.], [2., 4.]])
    with pytest.raises(ValueError, match="A: is singular to working precision"): feature_transform(R, [[1., 0.], [0., 1e-17]])
    with pytest.raises(ValueError, match="A: contains 1 NaN"): feature_transform(R, [[1., np.nan], [0., 1.]])
    with pytest.raises(ValueError, match=r"shift: expected shape \(2,\)"): feature_transform(R, A, shift=[1., 2., 3.])
    with pytest.raises(ValueError, match="shift: contains 1 NaN or infinite"): feature_transform(R, A, shift=[1., np.inf])


def test_transform_distribution_passes_errors_through():
    with pytest.raises(ValueError, match="class 1, which has no samples"):
        transform_distribution(FiniteDistribution(np.zeros((2, 2)), [0, 0], n_classes=3), [.5, .5, 0.], np.eye(3), A)
    with pytest.raises(ValueError, match="K_T=4 rows"): transform_distribution(R, None, np.full((4, 3), .25))
    with pytest.raises(ValueError, match="A: is singular"): transform_distribution(R, None, B, np.zeros((2, 2)))


# ---------------------------------------------------------------- transformations of classifiers
def test_classifier_transforms_bad_input():
    with pytest.raises(ValueError, match="h: expected a LinearSoftmax or TransformedClassifier, got function"):
        label_transform_classifier(lambda z: z, B)
    with pytest.raises(ValueError, match="h: expected a LinearSoftmax or TransformedClassifier"): prior_transform_classifier("probe")
    with pytest.raises(ValueError, match="B: has 2 columns but the reference side has 3 classes"): label_transform_classifier(H, np.eye(2))
    with pytest.raises(ValueError, match="B: has 3 columns but the reference side has 2 classes"):
        label_transform_classifier(label_transform_classifier(H, B), np.eye(3))       # after B the classifier has 2 outputs
    with pytest.raises(ValueError, match="K_T=4 rows"): label_transform_classifier(H, np.full((4, 3), .25))
    with pytest.raises(ValueError, match="column 0 sums to 2"): label_transform_classifier(H, 2 * np.eye(3))
    with pytest.raises(ValueError, match=r"A: expected a square \(2, 2\)"): feature_transform_classifier(H, np.eye(3))
    with pytest.raises(ValueError, match="A: is singular"): feature_transform_classifier(H, np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"shift: expected shape \(2,\)"): feature_transform_classifier(H, A, [0.])
    with pytest.raises(ValueError, match="A: contains 1 NaN"): transform_classifier(H, None, [[np.nan, 0.], [0., 1.]])


def test_transformed_classifier_checks_its_parameters():
    with pytest.raises(ValueError, match="base: expected a LinearSoftmax, got ndarray"): TransformedClassifier(H.W)
    with pytest.raises(ValueError, match="B: has 2 columns but the reference side has 3 classes"): TransformedClassifier(H, B=np.eye(2))
    with pytest.raises(ValueError, match="B: has K_T=4 rows"): TransformedClassifier(H, B=np.full((4, 3), .25))
    with pytest.raises(ValueError, match="column 0 sums to 0.5"): TransformedClassifier(H, B=np.full((2, 3), .25))
    with pytest.raises(ValueError, match="A: is singular"): TransformedClassifier(H, A=np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"A: expected a square \(2, 2\)"): TransformedClassifier(H, A=np.eye(3))
    with pytest.raises(ValueError, match=r"shift: expected shape \(2,\)"): TransformedClassifier(H, shift=np.zeros(3))


def test_as_linear_softmax_refuses_mixtures():
    with pytest.raises(ValueError, match="label map B is not a permutation"): as_linear_softmax(label_transform_classifier(H, B))
    with pytest.raises(ValueError, match="label map B is not a permutation"):
        as_linear_softmax(label_transform_classifier(H, np.array([[1., 1., 0.], [0., 0., 0.], [0., 0., 1.]])))
    assert is_permutation(np.eye(3)[[1, 2, 0]]) and not is_permutation(B) and not is_permutation(np.full((2, 2), .5))
    assert not is_permutation(np.array([[1., 1.], [0., 0.]])) and not is_permutation(np.eye(3)[:2])


def test_fit_linear_softmax_bad_input():
    with pytest.raises(ValueError, match="dist: expected a FiniteDistribution"): fit_linear_softmax((Z, Y))
    with pytest.raises(ValueError, match="needs at least 2 classes"): fit_linear_softmax(FiniteDistribution(Z, np.zeros(6, int)))
    with pytest.raises(ValueError, match="class 2 has no mass.*drop the class"):
        fit_linear_softmax(FiniteDistribution(Z, [0, 1, 0, 1, 0, 1], n_classes=3))
    with pytest.raises(ValueError, match="class 1 has no mass"):       # the atom exists but carries weight 0
        fit_linear_softmax(FiniteDistribution(Z[:3], [0, 1, 0], w=[.5, 0., .5]))
    with pytest.raises(ValueError, match="linearly separable"): fit_linear_softmax(FiniteDistribution([[-1.], [1.]], [0, 1]))
    with pytest.raises(ValueError, match="h: expected a LinearSoftmax.*as_linear_softmax"): expected_loss_grad(transform_classifier(H, B), R)


def test_has_recession_direction_decides_separability():
    assert has_recession_direction(FiniteDistribution([[-1.], [1.]], [0, 1]))
    assert has_recession_direction(FiniteDistribution([[-1.], [1.], [-1.], [1.]], [0, 1, 2, 2]))   # 0 vs 1 separable only
    assert not has_recession_direction(FiniteDistribution([[-1.], [1.], [-1.], [1.]], [0, 1, 1, 0]))
    # XOR in 2-D: not linearly separable
    assert not has_recession_direction(FiniteDistribution([[0., 0.], [1., 1.], [0., 1.], [1., 0.]], [0, 0, 1, 1]))


def test_fit_linear_softmax_warns_when_not_converged():
    d = FiniteDistribution([[-1.], [1.], [-1.], [1.]], [0, 1, 1, 0], w=[.4, .3, .2, .1])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit_linear_softmax(d, gtol=1e-30, max_iter=1)
    assert any("gradient norm" in str(c.message) for c in caught)


# ---------------------------------------------------------------- numpy vs torch
def test_numpy_and_torch_inputs_agree():
    T = lambda a, dt=torch.float64: torch.tensor(np.asarray(a), dtype=dt)
    D = np.array([.5, .3, .2])
    assert conditional_entropy(T(B), T(D)) == conditional_entropy(B, D)
    assert reweighted_loss(T(PROBS), torch.tensor([0, 1]), T([2., 1., 1.])) == reweighted_loss(PROBS, [0, 1], [2., 1., 1.])
    assert cross_entropy(T(PROBS, torch.float32), torch.tensor([0, 1])) == pytest.approx(cross_entropy(PROBS, [0, 1]), rel=1e-7)
    Rt = FiniteDistribution(T(Z), torch.tensor(Y), T(R.w))
    Ht = LinearSoftmax(T(H.W).requires_grad_(), T(H.b))                      # a tensor that needs grad is read too
    assert expected_loss(Ht, Rt) == expected_loss(H, R)
    np.testing.assert_array_equal(prior_transform(Rt, T(D)).w, prior_transform(R, D).w)
    np.testing.assert_array_equal(label_transform(Rt, T(B)).w, label_transform(R, B).w)
    np.testing.assert_array_equal(feature_transform(Rt, T(A), T([1., 2.])).z, feature_transform(R, A, [1., 2.]).z)
    np.testing.assert_array_equal(transform_classifier(Ht, T(B), T(A)).probs(T(Z)), transform_classifier(H, B, A).probs(Z))
    np.testing.assert_array_equal(prior_ratio(T(D), T(R.prior)), prior_ratio(D, R.prior))
    np.testing.assert_array_equal(class_prior(torch.tensor(Y), 3, T(R.w)), class_prior(Y, 3, R.w))
    for out in (Rt.z, Rt.w, Ht.W, prior_ratio(T(D), T(R.prior))): assert isinstance(out, np.ndarray) and out.dtype == np.float64
