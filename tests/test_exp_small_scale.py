"""App. C.1 small-scale study (taskrel.exp.small_scale): the committed results file (when it has the taskrel.results
schema), a tiny run's records, and bad input."""
import copy, json, re
import numpy as np
import pytest
import torch
from taskrel import results
from taskrel.bound import SETTINGS
from taskrel.exp.runner import theorem3_holds
from taskrel.exp.small_scale import (NUMERIC_KEYS, PARTS, RECORD_KEYS, REFERENCES, check_records, claims, convergence, main,
                                     paired_gap, records_frame, results_file, run_study, study_config, summary)

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def res():
    "The committed results file; its tests are skipped (and say so) while it has the old layout."
    try: return results.load(results_file())
    except results.OldSchemaError as e:
        print(f"OLD SCHEMA: {e}")
        pytest.skip(f"{results_file().name}: old results schema; regenerate with python -m taskrel.exp.small_scale --out data/results/small_scale.json")
    except FileNotFoundError: pytest.skip(f"{results_file()} not generated yet")


@pytest.fixture(scope="module")
def tiny():
    return run_study("tiny", parts=("references", "label_map"), progress=False, command="pytest")


def check_record(r, h):
    "What must hold for every record of the study, whatever the data."
    for k in RECORD_KEYS: assert k in r, k
    assert list(r["bounds"])[0] == r["preset"] and set(r["bounds"]) <= set(h["config"]["presets"])
    for p, b in r["bounds"].items():
        assert theorem3_holds(b) in (True, None), (r["study"], r["reference"], r["seed"], p)   # a certified bound lies above its target loss
        if not np.isfinite(b["task_relatedness"]): assert p != "certified"      # only the authors' W can be infinite
        assert b["preset"]["name"] == p and b["preset"]["setting"] == r["setting"] and b["preset"]["tau"] == h["config"]["tau"]
        assert b["reweighted_loss"] > 0 and b["label_mismatch"] >= 0 and b["transferability"] > 0
        if r["setting"] != "LearnedAll": assert b["label_mismatch"] == 0.0
    for k in NUMERIC_KEYS: assert r[k] == r["bounds"][r["preset"]][k]
    D, B = np.array(r["D"]), np.array(r["B"])
    assert D.shape == (r["n_reference_classes"],) and B.shape == (10, r["n_reference_classes"])
    np.testing.assert_allclose(D.sum(), 1, atol=1e-4)          # saved rounded to 5 decimals
    np.testing.assert_allclose(B.sum(0), 1, atol=1e-4)
    hist = r["history"]["batch_bound"]
    assert len(hist) == (1 if r["setting"] == "FixedAll" else r["epochs"]) and np.all(np.isfinite(hist))
    assert len(r["history"]["label_mismatch"]) == (r["epochs"] if r["setting"] == "LearnedAll" else 0)
    if r["setting"] != "LearnedAll": assert set(np.unique(B)) <= {0.0, 1.0}


# --- the committed results file -------------------------------------------------------------------------------------

def test_header(res):
    h = res["header"]
    assert re.fullmatch(r"[0-9a-f]{40}", h["git_commit"]), h["git_commit"]
    assert h["command"].startswith("python -m taskrel.exp.small_scale") and h["figure"] == "app_c1_small_scale"
    assert h["scale"] == "cpu" and h["seeds"] == [0, 1, 2] and h["config"]["restarts"] == [0, 1, 2, 3, 4]
    assert h["config"]["presets"] == ["certified", "authors-digits"] and h["wall_seconds"] > 0
    assert "taskrel/exp/small_scale.py" in h["source_sha256"] and "taskrel/bound.py" in h["source_sha256"]


def test_records_complete(res):
    df = records_frame(res)
    counts = df.groupby("study").size().to_dict()
    assert counts == {"references": 3 * 2 * 3, "lr_D": 3, "label_map": 3 * 2 * 2, "restarts": 5, "long": 2}, counts
    ref = df[df.study == "references"]
    assert sorted(set(ref.reference)) == sorted(REFERENCES) and sorted(set(ref.setting)) == sorted(SETTINGS)
    assert sorted(set(df[df.study == "label_map"].label_map)) == ["identity", "permutation"]
    for r in res["records"]:
        assert list(r["bounds"]) == (["certified", "authors-digits"] if r["study"] in ("references", "label_map") else ["certified"])


def test_records_consistent(res):
    for r in res["records"]: check_record(r, res["header"])


def test_embeddings(res):
    emb = res["extra"]["embeddings"]
    assert sorted(emb) == sorted(SETTINGS)
    for st, e in emb.items():
        assert np.array(e["reference_xy"]).shape == (len(e["reference_y"]), 2)
        assert np.array(e["target_xy"]).shape == (len(e["target_y"]), 2)
        assert np.all(np.isfinite(e["reference_xy"])) and np.isfinite(e["distribution_mismatch"])
    assert len(set(emb["FixedAll"]["reference_y"])) == 20   # FixedAll keeps D at the reference prior: all 20 classes drawn


def test_readers(res):
    s = summary(res, "references")
    assert (s["seeds"] == 3).all() and "task_relatedness[authors-digits]" in s
    g = paired_gap(res, "label_map", "label_map", "permutation", "identity")
    df = records_frame(res, "label_map")
    x = df[(df.reference == "MNIST") & (df.label_map == "permutation")].set_index("seed").task_relatedness
    y = df[(df.reference == "MNIST") & (df.label_map == "identity")].set_index("seed").task_relatedness
    np.testing.assert_allclose(g.loc[("MNIST", "USPS"), "mean"], (x - y).mean(), rtol=0, atol=1e-12)
    c = claims(res)
    assert set(c) >= {"settings", "settings_by_preset", "identity_gain", "identity_gain_by_preset", "convergence", "prior_and_map"}


# --- a tiny run -----------------------------------------------------------------------------------------------------

def test_tiny_records(tiny):
    assert [r["study"] for r in tiny["records"]] == ["references"] * 6 + ["label_map"] * 4
    for r in tiny["records"]: check_record(r, tiny["header"])
    assert list(tiny["records"][0]["bounds"]) == ["certified", "authors-digits"]
    assert "task_relatedness[authors-digits]" in records_frame(tiny).columns


def test_check_records_refuses(tiny):
    with pytest.raises(ValueError, match="old results layout"): check_records({"header": {}, "records": []})
    with pytest.raises(ValueError, match="'header' dict and a 'records' list"): check_records([1, 2])
    with pytest.raises(ValueError, match=r"no extra\['embeddings'\]"): check_records(tiny | {"extra": {}})
    bad = copy.deepcopy(tiny); del bad["records"][3]["history"]
    with pytest.raises(ValueError, match=r"record 3: missing \['history'\]"): check_records(bad)
    bad = copy.deepcopy(tiny); bad["records"][0]["distribution_mismatch"] = None
    with pytest.raises(ValueError, match=r"\['distribution_mismatch'\] not finite"): check_records(bad)
    bad = copy.deepcopy(tiny); bad["records"][0]["tau"] = float("inf")
    with pytest.raises(ValueError, match=r"\['tau'\] not finite"): check_records(bad)
    ok = copy.deepcopy(tiny); ok["records"][0]["task_relatedness"] = float("inf")   # a vacuous bound is allowed
    check_records(ok)


def test_round_trip_through_the_command_line(tmp_path):
    out = tmp_path / "s.json"
    res = main(["--scale", "tiny", "--parts", "lr_D", "--out", str(out), "--no-progress", "--allow-dirty"])
    back = results.load(out)
    assert back["header"]["command"] == f"python -m taskrel.exp.small_scale --scale tiny --parts lr_D --out {out} --no-progress --allow-dirty"
    assert back["header"]["parts"] == ["lr_D"] and back["header"]["allow_dirty"] is True
    assert back["records"][0]["task_relatedness"] == res["records"][0]["task_relatedness"]
    json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(f"bare {c}"))


# --- bad input --------------------------------------------------------------------------------------------------------

def test_study_config_bad_input():
    with pytest.raises(ValueError, match="scale='gpu'"): study_config("gpu")
    with pytest.raises(ValueError, match=r"\['depth'\] are not settings"): study_config("cpu", depth=3)
    with pytest.raises(ValueError, match="batch_size=32 <= pca_dim=32"): study_config("cpu", batch_size=32)
    with pytest.raises(ValueError, match="at least one"): study_config("cpu", seeds=[])
    assert study_config("cpu", seeds=[7])["seeds"] == (7,)


def test_run_study_bad_parts():
    with pytest.raises(ValueError, match=r"parts=\['fig9'\]"): run_study("tiny", parts=["fig9"], progress=False)
    with pytest.raises(ValueError, match=r"parts=\[\]"): run_study("tiny", parts=[], progress=False)
    assert set(PARTS) == {"references", "lr_D", "label_map", "restarts", "long"}


def test_convergence():
    h = np.r_[np.linspace(5, 1, 100), np.ones(100)]   # 95% of the drop 5 -> 1 is reached where h <= 1.2: index 95
    assert convergence(h, window=1)["epoch"] == 95
    assert convergence(np.full(60, 2.0))["epoch"] == 0   # no decrease: converged from the start
    with pytest.raises(ValueError, match="at least 2\\*window=50"): convergence(np.ones(49))
    with pytest.raises(ValueError, match="1-D"): convergence(np.ones((60, 2)))
    with pytest.raises(ValueError, match="fraction=1.5"): convergence(np.ones(60), fraction=1.5)


def test_records_frame_bad_study(tiny):
    with pytest.raises(ValueError, match="study='fig6'"): records_frame(tiny, "fig6")


@pytest.mark.parametrize("argv", [["--scale", "gpu"], ["--parts", "fig9"], ["--seeds", "x"]])
def test_main_refuses(argv):
    with pytest.raises(SystemExit) as e: main(argv)
    assert e.value.code == 2


def test_full_scale_file_holds_the_references_study_with_probes_at_their_tau():
    "The committed every-image run: the references sub-study only, each record consistent, each probe within 10% of tau."
    path = results_file("full")
    if not path.exists(): pytest.skip(f"{path} not generated yet")
    full = check_records(results.load(path))
    h = full["header"]
    assert h["scale"] == "full" and h["config"]["probe_tau_tolerance"] == 0.1 and {r["study"] for r in full["records"]} == {"references"}
    for r in full["records"]:
        check_record(r, h)
        for b in r["bounds"].values():
            assert all(abs(v / b["preset"]["tau"] - 1) <= 0.1 for v in b["probe_grad_norms"].values()), b["probe_grad_norms"]
    D20 = [np.array(r["D"]) for r in full["records"] if r["setting"] == "LearnedAll" and r["n_reference_classes"] == 20]
    assert D20 and all(abs(D.max() / D.min() - 1) < 0.5 for D in D20)   # a uniform start: no class of the 20 dominates by its prior
