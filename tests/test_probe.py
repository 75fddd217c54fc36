"""Bad input, determinism and the Lipschitz measurements of taskrel.probe (worked examples: nbs/03_probe.ipynb)."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from taskrel.probe import (LipschitzProbe, Standardizer, empirical_lipschitz, input_grad_norms, lipschitz_constant,
                           train_probe)
from taskrel.transforms import LinearSoftmax

torch.set_num_threads(1)
rng = np.random.default_rng(0)
Z = np.concatenate([rng.normal(m, 1, size=(40, 4)) for m in (-2, 0, 2)])
Y = np.repeat([0, 1, 2], 40)
FAST = dict(epochs=30, progress=False)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("kw,match", [
    (dict(y=Y[:-1]), r"y: has 119 labels but the features have 120 rows"),
    (dict(z=Z[:, 0]), r"z: expected a 2-D array"),
    (dict(z=np.where(np.eye(120, 4) > 0, np.nan, Z)), r"z: contains 4 NaN or infinite"),
    (dict(z=np.where(np.eye(120, 4) > 0, np.inf, Z)), r"z: contains 4 NaN or infinite"),
    (dict(y=np.where(Y == 1, 2, Y)), r"y: classes \[1\] of 0\.\.2 have no samples"),
    (dict(n_classes=5), r"y: classes \[3, 4\] of 0\.\.4 have no samples"),
    (dict(y=Y - 1), r"y: labels must be >= 0, found -1"),
    (dict(n_classes=2), r"y: label 2 out of range for 2 classes"),
    (dict(y=Y + 0.5), r"y: labels must be integers"),
    (dict(y=np.zeros(120, int)), r"y: classes \[\] of 0\.\.0 have no samples; a probe needs .* at least 2 classes"),
    (dict(tau=-0.1), r"tau=-0\.1: must be a positive number"),
    (dict(rho=np.inf), r"rho=inf: must be a finite non-negative"),
    (dict(epochs=0), r"epochs=0: must be a positive integer"),
    (dict(lr=0.0), r"lr=0\.0: must be positive"),
    (dict(batch_size=0), r"batch_size=0: must be a positive integer or None"),
    (dict(penalty="all"), r"penalty='all' is not one of"),
    (dict(dtype="float16"), r"dtype='float16': use 'float64' or 'float32'"),
])
def test_train_probe_bad_input(kw, match):
    args = dict(z=Z, y=Y) | FAST | kw
    with pytest.raises(ValueError, match=match):
        train_probe(args.pop("z"), args.pop("y"), **args)


@pytest.mark.parametrize("call,match", [
    (lambda: Standardizer().transform(Z), r"Standardizer: not fitted"),
    (lambda: Standardizer().fit(Z).transform(Z[:, :3]), r"z: has 3 features but the Standardizer was fitted on 4"),
    (lambda: Standardizer().fit(np.r_[Z, [[np.nan] * 4]]), r"z: contains 4 NaN"),
    (lambda: input_grad_norms(np.ones((3, 4)), Z[:, :2]), r"z: has 2 features but W expects d=4"),
    (lambda: input_grad_norms(np.ones((3, 4)), Z, Y + 1), r"y: label 3 out of range for 3 classes"),
    (lambda: input_grad_norms((np.ones((3, 4)), np.ones(2)), Z), r"b: expected shape \(3,\)"),
    (lambda: lipschitz_constant(np.ones(4)), r"W: expected a non-empty \(K, d\) weight matrix"),
    (lambda: empirical_lipschitz(np.full((3, 4), np.nan), Z), r"W: contains 12 NaN"),
])
def test_helpers_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---------------------------------------------------------------- determinism and input types
def test_training_is_deterministic_under_a_seed():
    for kw in (dict(), dict(batch_size=32), dict(penalty="max"), dict(dtype="float32", batch_size=50)):
        h1 = train_probe(Z, Y, tau=0.2, seed=3, **FAST, **kw)
        h2 = train_probe(Z, Y, tau=0.2, seed=3, **FAST, **kw)
        np.testing.assert_array_equal(h1.W, h2.W)
        np.testing.assert_array_equal(h1.b, h2.b)
        assert h1.history == h2.history


def test_seed_matters_where_there_is_randomness():
    h1 = train_probe(Z, Y, tau=0.2, seed=1, batch_size=32, **FAST)
    h2 = train_probe(Z, Y, tau=0.2, seed=2, batch_size=32, **FAST)
    assert np.abs(h1.W - h2.W).max() > 1e-6


def test_numpy_and_torch_inputs_agree():
    h_np = train_probe(Z, Y, tau=0.2, **FAST)
    h_t = train_probe(torch.tensor(Z), torch.tensor(Y), tau=0.2, **FAST)
    np.testing.assert_array_equal(h_np.W, h_t.W)
    s_np, s_t = Standardizer().fit(Z), Standardizer().fit(torch.tensor(Z, dtype=torch.float32))
    np.testing.assert_allclose(s_np.mean, s_t.mean, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(input_grad_norms(h_np, torch.tensor(Z)), input_grad_norms(h_np, Z), rtol=1e-12)


def test_float32_close_to_float64():
    h64 = train_probe(Z, Y, tau=0.2, dtype="float64", **FAST)
    h32 = train_probe(Z, Y, tau=0.2, dtype="float32", **FAST)
    assert h32.W.dtype == np.float64                                        # returned in float64 either way
    # rho = 1e4 amplifies float32 rounding near the hinge: weights agree to ~1e-3, losses to ~1e-3 relative
    np.testing.assert_allclose(h32.W, h64.W, atol=3e-3)
    np.testing.assert_allclose(h32.loss(Z, Y), h64.loss(Z, Y), rtol=1e-2)


# ---------------------------------------------------------------- the probe object and the penalty
def test_probe_object_api():
    h = train_probe(Z, Y, tau=0.2, **FAST)
    assert isinstance(h, LipschitzProbe) and isinstance(h, LinearSoftmax)
    assert (h.tau, h.rho, h.penalty) == (0.2, 1e4, "true+random")
    np.testing.assert_allclose(h.predict_proba(Z).sum(1), 1, rtol=1e-12)
    np.testing.assert_allclose(h.loss(Z, Y), -np.log(h.predict_proba(Z)[np.arange(120), Y]).mean(), rtol=1e-10)
    assert len(h.history["objective"]) == FAST["epochs"]


def test_standardizer_fits_on_train_only():
    tr, te = rng.normal(5, 3, size=(200, 2)), rng.normal(5, 3, size=(50, 2))
    s = Standardizer().fit(tr)
    np.testing.assert_allclose(s.transform(tr).mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(s.transform(te), (te - tr.mean(0)) / tr.std(0), rtol=1e-12)
    const = np.c_[tr[:, :1], np.full(200, 7.0)]
    np.testing.assert_array_equal(Standardizer().fit_transform(const)[:, 1], 0.0)


def test_penalty_brings_the_gradient_norm_down_to_tau():
    free = train_probe(Z, Y, tau=None, epochs=200, progress=False)
    tight = train_probe(Z, Y, tau=0.1, epochs=200, progress=False)
    assert free.empirical_lipschitz(Z, Y) > 0.5
    assert tight.empirical_lipschitz(Z, Y) <= 0.1 * 1.05
    assert tight.loss(Z, Y) > free.loss(Z, Y)


# ---------------------------------------------------------------- the Lipschitz measurements
def test_lipschitz_constant_by_hand():
    assert lipschitz_constant(np.array([[0., 0.], [3., 4.]])) == pytest.approx(5.0, rel=1e-12)
    assert lipschitz_constant(np.array([[1., 1.], [1., 1.], [1., 1.]])) == 0.0


def test_gradient_norms_match_autograd():
    W, b = rng.normal(size=(3, 4)), rng.normal(size=3)
    z = torch.tensor(Z, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(z @ torch.tensor(W).T + torch.tensor(b), torch.tensor(Y), reduction="sum")
    g, = torch.autograd.grad(loss, z)
    np.testing.assert_allclose(input_grad_norms((W, b), Z, Y), g.norm(dim=1).numpy(), rtol=1e-9, atol=1e-14)


def test_global_constant_is_approached_far_away():
    W = np.array([[1., 0.], [0., 1.], [-1., -1.]])     # farthest rows: w_0, w_2 or w_1, w_2 (sqrt 5)
    v = np.array([-1., -1.])                            # exposes w_2
    far = input_grad_norms(W, 1e3 * v[None], [0])[0]
    np.testing.assert_allclose(far, np.sqrt(5), rtol=1e-12)


@settings(max_examples=50, deadline=None, derandomize=True)
@given(W=arrays(np.float64, (3, 2), elements=st.floats(-5, 5)),
       z=arrays(np.float64, (2, 2), elements=st.floats(-50, 50)), y=st.integers(0, 2))
def test_global_constant_bounds_every_gradient_and_difference(W, z, y):
    L = lipschitz_constant(W)
    assert input_grad_norms(W, z).max() <= L * (1 + 1e-9) + 1e-12
    s = z @ W.T
    loss = np.logaddexp.reduce(s, axis=1) - s[:, y]
    assert abs(loss[0] - loss[1]) <= L * np.linalg.norm(z[0] - z[1]) * (1 + 1e-9) + 1e-9
