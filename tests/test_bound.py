"""Bad input and contracts of taskrel.bound.task_relatedness (the worked examples live in nbs/05_bound.ipynb)."""
import numpy as np
import pytest
import torch
from taskrel.bound import fixed_label_map, task_relatedness

rng = np.random.default_rng(0)
ZR, YR = rng.normal(size=(120, 3)), np.repeat(np.arange(3), 40)
ZT, YT = rng.normal(size=(90, 3)) + 0.3, np.repeat(np.arange(3), 30)
FAST = dict(epochs=5, probe=dict(epochs=20), batch_size=60, progress=False, tau=0.2)


def run(**kw):
    args = dict(zr=ZR, yr=YR, zt=ZT, yt=YT) | FAST
    args.update(kw)
    return task_relatedness(args.pop("zr"), args.pop("yr"), args.pop("zt"), args.pop("yt"), **args)


@pytest.mark.parametrize("kw,match", [
    (dict(zt=np.ones((90, 4))), r"zr has 3 features but zt has 4"),
    (dict(yr=YR[:-1]), r"yr: has 119 labels but the features have 120 rows"),
    (dict(zr=np.where(np.eye(120, 3) > 0, np.nan, ZR)), r"zr: contains 3 NaN"),
    (dict(zt=np.where(np.eye(90, 3) > 0, np.inf, ZT)), r"zt: contains 3 NaN or infinite"),
    (dict(setting="Learned"), r"setting='Learned' is not one of"),
    (dict(distance="kl"), r"distance='kl' is not one of"),
    (dict(solver="lp"), r"solver='lp' is not one of"),
    (dict(tau=0.0), r"tau=0.0: must be a positive number"),
    (dict(preset="fast"), r"preset='fast' is not one of"),
    (dict(mismatch="sum"), r"mismatch='sum' is not one of"),
    (dict(probe_epochs=3), r"unknown argument\(s\) \['probe_epochs'\]"),
    (dict(yt=None), r"yt=None \(pseudo-labels\) needs n_target_classes"),
    (dict(yr=np.where(YR == 1, 2, YR)), r"reference classes \[1\] have no samples"),
    (dict(yt=np.arange(90) % 4), r"K_T=4 classes but the reference only K_R=3"),
    (dict(zr_test=ZR, yr_test=YR, zt_test=ZT), r"yt_test is needed"),
])
def test_bad_input_names_the_argument(kw, match):
    with pytest.raises(ValueError, match=match):
        run(**kw)


def test_small_batch_warns_with_the_reason():
    with pytest.warns(UserWarning, match=r"batch_size=3 <= feature dimension d=3.*App. D"):
        run(batch_size=3)


def test_record_is_consistent_and_deterministic():
    a, b = run(setting="LearnedA", seed=3), run(setting="LearnedA", seed=3)
    assert a.total == b.total and np.array_equal(a.A, b.A)
    np.testing.assert_allclose(a.distribution_mismatch, a.tau * a.details["wasserstein"]["certified"], rtol=1e-12)
    assert a.tau == a.details["tau"]["certified"] and a.preset.name == "certified"
    assert a.total >= a.transformed_reference_loss          # the certified chain holds on the evaluation data
    np.testing.assert_allclose(a.B.sum(0), 1, atol=1e-12)
    np.testing.assert_allclose(a.D.sum(), 1, atol=1e-12)


def test_fixed_all_learns_nothing():
    r = run(setting="FixedAll")
    np.testing.assert_array_equal(r.A, np.eye(3)); np.testing.assert_array_equal(r.bias, np.zeros(3))
    assert r.total >= r.transformed_reference_loss   # the certified bound holds at A = I too


@pytest.mark.parametrize("tau_source,mismatch", [("measured", "authors"), ("fixed", "lemma4"), ("certified", "lemma4")])
def test_tau_and_mismatch_choices_enter_the_bound(tau_source, mismatch):
    r = run(tau_source=tau_source, mismatch=mismatch)
    assert r.tau == r.details["tau"][tau_source]
    np.testing.assert_allclose(r.distribution_mismatch, r.tau * r.details["wasserstein"][mismatch], rtol=1e-12)


def test_authors_preset_runs_their_recipe():
    r = run(preset="authors-digits", epochs=3, probe=dict(epochs=5))
    assert r.preset.setting == "LearnedAll" and r.preset.mismatch == "authors" and r.preset.probe_kwargs["rho"] == 1e10
    assert r.tau == r.details["tau"]["measured"]
    assert set(r.details["timings"]) == {"probes", "alg1", "evaluation"}


def test_torch_inputs_match_numpy():
    a = run(seed=1)
    b = run(seed=1, zr=torch.tensor(ZR), yr=torch.tensor(YR), zt=torch.tensor(ZT), yt=torch.tensor(YT))
    np.testing.assert_allclose(a.total, b.total, rtol=1e-12)


def test_fixed_label_map_rejects_bad_requests():
    with pytest.raises(ValueError, match="n_target=4 > n_reference=3"):
        fixed_label_map(4, 3)
    with pytest.raises(ValueError, match="label_map='random'"):
        fixed_label_map(2, 3, "random")
    with pytest.raises(ValueError, match=r"B: shape \(2, 2\), expected \(2, 3\)"):
        fixed_label_map(2, 3, np.eye(2))
