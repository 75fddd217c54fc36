"""taskrel.reference.metrics: the official code paths of the eight metrics, re-implemented, agree with taskrel.metrics
(including LogME on rank-deficient features), leave their inputs alone, refuse options the official code lacks, and
`race` times both on the same arguments."""
import inspect
import math
import numpy as np
import pytest
import torch
from taskrel import metrics
from taskrel.reference.metrics import OFFICIAL, race, official_logme, official_nce, official_pactran, official_sfda
from metric_data import blobs, soft, low_rank


def test_official_table_has_every_metric_with_the_same_signature():
    assert sorted(OFFICIAL) == sorted(["logme", "leep", "nce", "hscore", "pactran", "sfda", "ot_nce", "otce"])
    for name, f in OFFICIAL.items():
        ours = inspect.signature(getattr(metrics, name)).parameters
        theirs = inspect.signature(f).parameters
        assert list(theirs) == list(ours), name
        assert [p.default for p in theirs.values()] == [p.default for p in ours.values()], name


# ---------------------------------------------------------------- LogME, the case of issue 13
@pytest.mark.parametrize("top", [3.0, 10.0])
@pytest.mark.parametrize("n,d,r,dead", [(1000, 128, 20, 0), (1000, 128, 20, 10), (500, 128, 5, 0), (300, 64, 40, 3),
                                        (2000, 256, 60, 30), (1000, 128, 128, 10), (128, 128, 20, 0), (100, 128, 20, 0),
                                        (60, 200, 10, 5)])
def test_logme_matches_the_official_code_on_rank_deficient_features(n, d, r, dead, top):
    F, y = low_rank(n, d, r, 4, top=top, dead=dead, seed=n + d)
    np.testing.assert_allclose(metrics.logme(F, y), official_logme(F, y), rtol=0, atol=1e-10)   # required: 1e-3; seen: ~1e-15


def test_logme_rank_deficient_case_is_not_matched_by_clamping_negative_eigenvalues():
    F, y = low_rank(1000, 128, 20, 4, top=10.0)         # the null directions' eigenvalues are rounding noise of both signs
    Ft = torch.from_numpy(F); Y = metrics._onehot(torch.from_numpy(y), 4)
    lam, V = torch.linalg.eigh(Ft.T @ Ft)
    keep = lam.clamp_min(0).sqrt() > 1e-10                # the earlier route: negative eigenvalues dropped
    sig, x = lam[keep][:, None], (V[:, keep].T @ (Ft.T @ Y)) / lam[keep].sqrt()[:, None]
    clamped = float(metrics._logme_evidence(sig, x, Y, 128).mean())
    assert int(keep.sum()) < 100 and clamped - official_logme(F, y) > 0.1


@pytest.mark.parametrize("n,d,k", [(120, 10, 4), (40, 40, 3), (25, 60, 5), (300, 3, 7)])
def test_logme_matches_the_official_code_on_full_rank_features(n, d, k):
    F, y = blobs(n, d, k, 0.6, seed=n)
    np.testing.assert_allclose(metrics.logme(F, y), official_logme(F, y), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- the other metrics
@pytest.mark.parametrize("seed", range(3))
def test_leep_and_nce_match_the_logme_repository(seed):
    r = np.random.default_rng(seed)
    P, y = soft(200, 9, seed), r.integers(0, 4, 200)
    z = np.where(P.argmax(1) == 2, 8, P.argmax(1))      # one source class never predicted: masked by both
    np.testing.assert_allclose(metrics.leep(P, y), OFFICIAL["leep"](P, y), rtol=1e-13)
    # the LogME repository's current NCE.py (after 5e01b88 and 707a695) runs and gives our number exactly
    np.testing.assert_allclose(metrics.nce(z, y), official_nce(z, y), rtol=0, atol=1e-15)


def test_hscore_matches_the_published_function():
    for n, d, k in [(200, 10, 4), (90, 30, 3), (60, 5, 2)]:
        F, y = blobs(n, d, k, 0.6, seed=d)
        np.testing.assert_allclose(metrics.hscore(F, y), OFFICIAL["hscore"](F, y), rtol=1e-9)


def test_pactran_matches_calculate_pac_gauss():
    F, y = blobs(150, 12, 3, 0.7, seed=4)
    for kw in [{}, dict(lda_factor=1.0, sigma2=0.5), dict(seed=3, maxiter=20)]:
        # the official objective carries sum(log(1 + 1e-10)) / N = 1e-10 that ours leaves out
        np.testing.assert_allclose(metrics.pactran(F, y, **kw), official_pactran(F, y, **kw), rtol=0, atol=1e-9)


@pytest.mark.parametrize("scale", [0.05, 1.0, 20.0])
def test_sfda_matches_sfda_score(scale):
    F, y = blobs(160, 8, 4, 0.8, seed=5)
    np.testing.assert_allclose(metrics.sfda(scale * F, y), official_sfda(scale * F, y), rtol=1e-9)


@pytest.mark.parametrize("ns,nt", [(150, 150), (120, 90), (60, 80)])
def test_ot_metrics_match_the_otce_demo(ns, nt):
    Zs, ys = blobs(ns, 16, 4, 1.0, seed=6); Zt, yt = blobs(nt, 16, 5, 1.0, seed=7)
    np.testing.assert_allclose(metrics.ot_nce(Zs, ys, Zt, yt), OFFICIAL["ot_nce"](Zs, ys, Zt, yt), rtol=1e-10)
    lam = (-0.3, -2.0, 0.5)
    np.testing.assert_allclose(metrics.otce(Zs, ys, Zt, yt, lam), OFFICIAL["otce"](Zs, ys, Zt, yt, lam), rtol=1e-10)
    np.testing.assert_allclose(metrics.otce(torch.from_numpy(Zs), ys, torch.from_numpy(Zt), yt),
                               OFFICIAL["otce"](torch.from_numpy(Zs), ys, torch.from_numpy(Zt), yt), rtol=1e-10)


# ---------------------------------------------------------------- faithful, but never destructive
def test_official_code_paths_leave_their_inputs_alone():
    F, y = blobs(90, 6, 3, 0.8, seed=8)
    P, z = soft(90, 5), np.arange(90) % 5
    args = {"logme": (F, y), "hscore": (F, y), "pactran": (F, y), "sfda": (F, y), "leep": (P, y), "nce": (z, y),
            "ot_nce": (F[:40], y[:40], F[40:80], y[40:80]), "otce": (F[:40], y[:40], F[50:], y[50:])}
    before = {k: [a.copy() for a in v] for k, v in args.items()}
    for name, a in args.items():
        assert math.isfinite(OFFICIAL[name](*a)), name
        for x, x0 in zip(a, before[name]): assert np.array_equal(x, x0), name


def test_official_code_paths_refuse_options_the_originals_lack():
    F, y = blobs(60, 4, 3, seed=9)
    with pytest.raises(ValueError, match="no exact log-determinant"): official_logme(F, y, exact_logdet=True)
    with pytest.raises(ValueError, match="n_per_class"): official_pactran(F, y, n_per_class=10)


# ---------------------------------------------------------------- race
def test_race_times_both_on_the_same_arguments():
    F, y = blobs(300, 8, 3, 0.8, seed=10)
    r = race("hscore", (F, y), rounds=3)
    assert r["metric"] == "hscore" and r["taskrel_value"] == metrics.hscore(F, y) and r["official_value"] == OFFICIAL["hscore"](F, y)
    for k in ("taskrel", "official"): assert 0 < r[f"{k}_min"] <= r[f"{k}_median"]
    assert r["speedup_median"] == pytest.approx(r["official_median"] / r["taskrel_median"]) and len(r["load_1min"]) == 2
    with pytest.raises(ValueError, match=r"name='h-score': not one of"): race("h-score", (F, y))
    with pytest.raises(ValueError, match=r"rounds=0"): race("hscore", (F, y), rounds=0)
