"""Synthetic inputs shared by the metric tests (tests/test_metrics.py, tests/test_reference_metrics.py)."""
import numpy as np
import scipy.special


def blobs(n, d, k, sep=1.0, seed=0):
    "n points in d dimensions around k Gaussian class means `sep` apart (in units of the noise), labels cycling 0..k-1."
    r = np.random.default_rng(seed)
    y = np.arange(n) % k
    return sep * r.normal(size=(k, d))[y] + r.normal(size=(n, d)), y


def soft(n, c, seed=0, scale=2.0):
    "n soft predictions over c source classes: softmax of scaled Gaussian logits."
    return scipy.special.softmax(scale * np.random.default_rng(seed).normal(size=(n, c)), axis=1)


def low_rank(n, d, r, k, top=3.0, tail=1e-6, dead=0, seed=0):
    "n x d features: rank r (singular values top sqrt(n) .. sqrt(n)) carrying k classes, the others `tail`, the first `dead` columns zero."
    g = np.random.default_rng(seed); y = np.arange(n) % k; m = min(n, d)
    U, V = np.linalg.qr(g.normal(size=(n, m)))[0], np.linalg.qr(g.normal(size=(d, d)))[0][:, :m]
    F = (U * np.r_[np.sqrt(n) * np.linspace(top, 1, r), np.full(m - r, tail)]) @ V.T + 0.8 * g.normal(size=(k, r))[y] @ V[:, :r].T
    F[:, :dead] = 0
    return F, y
