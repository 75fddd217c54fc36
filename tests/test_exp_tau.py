"""taskrel.exp.tau (Fig. 13): settings, the readers on hand-made sweeps with known answers, the verdicts, the command line
and one tiny run into a results file; the saved file, when it exists, follows the schema."""
import math
import numpy as np
import pytest
import torch
from taskrel import results
from taskrel.exp.runner import theorem3_holds
from taskrel.exp.tau import (scale_config, tau_claims, tau_verdicts, tau_summary, main, results_file, RECORD_KEYS, TAUS,
                             PAPER_FIG13, PAPER_TAU_DIGITS, PAIRS, paper_tau, tau_tasks)
from taskrel.exp.nlp import minilm_available

torch.set_num_threads(1)


def sweep(probe=lambda t: 0.1 / t + 1, W=3.0, seeds=(0, 1, 2), taus=TAUS, presets=("certified", "paper")):
    "Hand-made records: reference loss probe(tau), mismatch W * tau, seed s adds 0.001 * s to the bound."
    recs = []
    for s in seeds:
        for t in taus:
            bounds = {}
            for p in presets:
                b = dict(reweighted_loss=probe(t), label_mismatch=0.0, distribution_mismatch=W * t, tau=t,
                         transferability=1.0 + t, transformed_reference_loss=1.0)
                b["task_relatedness"] = b["reweighted_loss"] + b["distribution_mismatch"] + 0.001 * s
                bounds[p] = b
            recs.append(dict(pair="MNIST->USPS", encoder="PCA-32", seed=s, tau_probe=t, preset=presets[0], bounds=bounds) | bounds[presets[0]])
    return {"header": {}, "records": recs}


@pytest.mark.parametrize("kw,match", [
    (dict(scale="gpu"), r"scale='gpu'"),
    (dict(scale="cpu", taus=[0.1, 0.0]), r"taus=\[0.1, 0.0\]"),
    (dict(scale="cpu", taus=[0.1, 0.1]), r"need distinct positive"),
    (dict(scale="cpu", batch_size=8), r"batch_size=8 <= pca_dim=32"),
    (dict(scale="cpu", epochs_alg=3), r"\['epochs_alg'\] are not settings"),
])
def test_scale_config_refuses_bad_input(kw, match):
    with pytest.raises(ValueError, match=match):
        scale_config(**kw)


def test_scales_cover_the_papers_sweep():
    for s in ("full", "cpu"):
        c = scale_config(s)
        assert set(PAPER_FIG13["taus"]) <= set(c["taus"]) and c["seeds"] == (0, 1, 2)
        assert {"certified", "paper"} <= set(c["presets"]) and c["batch_size"] > c["pca_dim"]
    assert PAPER_TAU_DIGITS == 0.2 and PAPER_FIG13["chosen"]["large models"] == 0.02


def test_claims_find_the_known_minimiser():
    # 0.1 / t + 3 t is smallest at t = sqrt(1/30) ~ 0.18: among the sweep, 0.2
    c = tau_claims(sweep())[("MNIST->USPS", "paper")]
    assert c["probe_loss_falls"] and c["mismatch_grows"] and c["best_tau"] == 0.2 and c["matches_paper_tau"]
    assert c["best_tau_per_seed"] == [0.2] * 3 and c["seeds_agreeing"] == 3
    assert c["best_tau_transferability"] == min(TAUS)
    np.testing.assert_allclose(c["bound_at_paper_tau"], 0.1 / 0.2 + 1 + 0.6 + 0.001, rtol=0, atol=1e-12)   # mean of seeds 0, 1, 2
    # a heavier mismatch moves the minimiser down: 0.1 / t + 30 t is smallest at t ~ 0.058 -> 0.05
    c2 = tau_claims(sweep(W=30.0))[("MNIST->USPS", "certified")]
    assert c2["best_tau"] == 0.05 and not c2["matches_paper_tau"]


def test_claims_fail_when_the_tradeoff_is_absent():
    c = tau_claims(sweep(probe=lambda t: 1.0 + t, W=-1.0))[("MNIST->USPS", "paper")]
    assert not c["probe_loss_falls"] and not c["mismatch_grows"]
    assert c["probe_loss_falls_steps"] == (0, len(TAUS) - 1)


def test_summary_means_and_stds():
    s = tau_summary(sweep())
    row = s.loc[("MNIST->USPS", 0.2)]
    np.testing.assert_allclose(row["task_relatedness[paper]"], 0.5 + 1 + 0.6 + 0.001, rtol=0, atol=1e-12)
    np.testing.assert_allclose(row["task_relatedness[paper]_std"], 0.001, rtol=0, atol=1e-12)
    assert row["seeds"] == 3


def test_verdicts_one_per_claim_and_preset():
    vs = tau_verdicts(sweep())
    assert len(vs) == 3 * 2 and all(v["holds"] for v in vs)   # hand-made records without n_target_classes: no 4th claim
    assert {v["preset"] for v in vs} == {"certified", "paper"}
    assert all(isinstance(v["detail"], str) and v["claim"] for v in vs)


def test_trivial_bound_claim_needs_the_class_count():
    res = sweep()
    for r in res["records"]: r["n_target_classes"] = 10
    c = tau_claims(res)[("MNIST->USPS", "paper")]
    np.testing.assert_allclose(c["trivial_bound"], math.log(10), atol=1e-12)
    vs = tau_verdicts(res)
    assert len(vs) == 4 * 2 and vs[3]["holds"] and "against log K_T = 2.303" in vs[3]["detail"]
    worse = sweep(probe=lambda t: 0.1 / t + 2.0)                 # every bound above log 10
    for r in worse["records"]: r["n_target_classes"] = 10
    assert not tau_verdicts(worse)[3]["holds"]


@pytest.mark.parametrize("argv", [["--scale", "gpu"], ["--taus", "0.1", "-1"], ["--seeds"]])
def test_cli_refuses_bad_arguments(argv):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2


def test_tiny_run_through_the_command_line(tmp_path):
    out = tmp_path / "fig13.json"
    res = main(["--scale", "tiny", "--taus", "0.05", "--presets", "paper", "--out", str(out), "--no-progress", "--allow-dirty"])
    back = results.load(out)
    h = back["header"]
    assert h["command"] == f"python -m taskrel.exp.tau --scale tiny --taus 0.05 --presets paper --out {out} --no-progress --allow-dirty"
    assert h["figure"] == "fig13" and h["scale"] == "tiny" and h["seeds"] == [0] and "taskrel/exp/tau.py" in h["source_sha256"]
    assert [(r["seed"], r["tau_probe"], r["n_target_classes"]) for r in back["records"]] == [(0, 0.05, 10)]
    assert len(back["verdicts"]) == 4 and all(v["preset"] == "paper" for v in back["verdicts"])
    b = back["records"][0]["bounds"]["paper"]
    np.testing.assert_allclose(b["distribution_mismatch"], 0.05 * b["wasserstein"]["lemma4"], rtol=1e-9)
    assert res["records"][0]["task_relatedness"] == back["records"][0]["task_relatedness"]
    assert torch.get_num_threads() == 1


def test_saved_results_file_follows_the_schema():
    path = results_file()
    if not path.exists(): pytest.skip(f"{path} not generated yet")
    res = results.load(path)
    h = res["header"]
    assert h["figure"] == "fig13" and h["scale"] in ("cpu", "full") and len(h["seeds"]) >= 3
    assert h["command"].startswith("python -m taskrel.exp.tau")
    keys = [(r["pair"], r["seed"], r["tau_probe"]) for r in res["records"]]
    assert len(keys) == len(set(keys)) == len(h["seeds"]) * len(h["config"]["taus"]) * len(h["config"]["pairs"])
    for r in res["records"]:
        assert set(RECORD_KEYS) <= set(r)
        for p, b in r["bounds"].items():
            assert math.isfinite(b["task_relatedness"]) and b["label_mismatch"] == 0.0
            assert theorem3_holds(b) in (True, None), (r["pair"], r["seed"], p)   # a certified bound lies above its target loss
    assert len(res["verdicts"]) == 4 * len(h["config"]["presets"]) * len(h["config"]["pairs"])


def test_each_pair_is_judged_against_the_papers_tau_for_its_kind():
    assert scale_config("cpu")["pairs"] == tuple(PAIRS) and scale_config("tiny")["pairs"] == ("MNIST->USPS",)
    assert paper_tau("MNIST->USPS") == PAPER_TAU_DIGITS and paper_tau("SST-5->RT") == PAPER_FIG13["chosen"]["large models"]
    recs = [dict(r, pair="SST-5->RT") for r in sweep()["records"]]       # the bound is smallest at 0.2, the digits choice
    c = tau_claims({"header": {}, "records": recs})[("SST-5->RT", "paper")]
    assert c["best_tau"] == 0.2 and c["paper_tau"] == 0.02 and not c["matches_paper_tau"]
    with pytest.raises(ValueError, match=r"pairs=\['MNIST->SVHN'\]"): scale_config("cpu", pairs=["MNIST->SVHN"])


@pytest.mark.skipif(not minilm_available(), reason="needs the MiniLM wheel (see taskrel.exp.nlp.MINILM_PACKAGES)")
def test_text_pair_features():
    ref, tgt, source = tau_tasks(0, scale_config("tiny"), pair="SST-5->RT")
    assert ref[0].shape[1] == tgt[0].shape[1] == 6 and set(ref[1]) == {0, 1} and set(tgt[1]) == {0, 1}
    assert "Rotten Tomatoes" in source
