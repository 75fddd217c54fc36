"""App. C.1 small-scale study (taskrel.exp.small_scale): the committed results file and bad input."""
import copy, json, re
import numpy as np
import pytest
from taskrel.bound import SETTINGS
from taskrel.exp.small_scale import (HEADER_KEYS, NUMERIC_KEYS, PARTS, RECORD_KEYS, REFERENCES, balanced, check_results,
                                     claims, convergence, load_results, main, paired_gap, records_frame, results_path,
                                     run_study, save_results, study_config, summary)


@pytest.fixture(scope="module")
def res():
    return load_results(results_path())


# --- the committed results file -------------------------------------------------------------------------------------

def test_header(res):
    h = res["header"]
    for k in HEADER_KEYS: assert k in h, k
    assert re.fullmatch(r"[0-9a-f]{40}", h["git_commit"]), h["git_commit"]
    assert h["command"].startswith("python -m taskrel.exp.small_scale")
    assert h["scale"] == "cpu" and h["seeds"] == [0, 1, 2] and h["restarts"] == [0, 1, 2, 3, 4]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", h["date"]), h["date"]
    assert h["device"].startswith("cpu") and h["wall_seconds"] > 0


def test_records_complete(res):
    df = records_frame(res)
    counts = df.groupby("study").size().to_dict()
    assert counts == {"references": 3 * 2 * 3, "lr_D": 3, "label_map": 3 * 2 * 2, "restarts": 5, "long": 2}, counts
    ref = df[df.study == "references"]
    assert sorted(set(ref.reference)) == sorted(REFERENCES) and sorted(set(ref.setting)) == sorted(SETTINGS)
    assert sorted(set(df[df.study == "label_map"].label_map)) == ["identity", "permutation"]


def test_records_finite_and_consistent(res):
    for i, r in enumerate(res["records"]):
        for k in RECORD_KEYS: assert k in r, (i, k)
        for k in NUMERIC_KEYS:
            assert isinstance(r[k], float) and np.isfinite(r[k]), (i, k, r[k])
        np.testing.assert_allclose(r["task_relatedness"], r["reweighted_loss"] + r["label_mismatch"] + r["distribution_mismatch"],
                                   rtol=0, atol=1e-9)
        assert r["reweighted_loss"] > 0 and r["distribution_mismatch"] > 0 and r["label_mismatch"] >= 0
        D, B = np.array(r["D"]), np.array(r["B"])
        assert D.shape == (r["n_reference_classes"],) and B.shape == (10, r["n_reference_classes"])
        np.testing.assert_allclose(D.sum(), 1, atol=1e-4)          # saved rounded to 5 decimals
        np.testing.assert_allclose(B.sum(0), 1, atol=1e-4)
        hist = r["history"]["batch_bound"]
        assert len(hist) == (1 if r["setting"] == "FixedAll" else r["epochs"]) and np.all(np.isfinite(hist))
        assert len(r["history"]["label_mismatch"]) == (r["epochs"] if r["setting"] == "LearnedAll" else 0)
        if r["setting"] != "LearnedAll":
            assert r["label_mismatch"] == 0.0 and set(np.unique(B)) <= {0.0, 1.0}


def test_embeddings(res):
    emb = res["embeddings"]
    assert sorted(emb) == sorted(SETTINGS)
    for st, e in emb.items():
        assert np.array(e["reference_xy"]).shape == (len(e["reference_y"]), 2)
        assert np.array(e["target_xy"]).shape == (len(e["target_y"]), 2)
        assert np.all(np.isfinite(e["reference_xy"])) and np.isfinite(e["distribution_mismatch"])
    # FixedAll and LearnedA keep D at the reference prior: all 20 reference classes are drawn
    assert len(set(emb["FixedAll"]["reference_y"])) == 20


def test_round_trip(res, tmp_path):
    p = save_results(res, tmp_path / "r.json")
    back = load_results(p)
    assert back["header"] == res["header"] and len(back["records"]) == len(res["records"])
    np.testing.assert_allclose([r["task_relatedness"] for r in back["records"]], [r["task_relatedness"] for r in res["records"]], rtol=0, atol=0)


def test_readers(res):
    s = summary(res, "references")
    assert (s["seeds"] == 3).all()
    g = paired_gap(res, "label_map", "label_map", "permutation", "identity")
    df = records_frame(res, "label_map")
    x = df[(df.reference == "MNIST") & (df.label_map == "permutation")].set_index("seed").task_relatedness
    y = df[(df.reference == "MNIST") & (df.label_map == "identity")].set_index("seed").task_relatedness
    np.testing.assert_allclose(g.loc[("MNIST", "USPS"), "mean"], (x - y).mean(), rtol=0, atol=1e-12)
    c = claims(res)
    assert set(c) >= {"settings", "identity_gain", "convergence", "prior_and_map"}


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


@pytest.mark.parametrize("per_class", [0, -3, 2.5, "10"])
def test_balanced_bad_per_class(per_class):
    X, y = np.zeros((6, 2)), np.array([0, 0, 0, 1, 1, 1])
    with pytest.raises(ValueError, match="per_class="): balanced(X, y, per_class)


def test_balanced_caps_at_smallest_class():
    X, y = np.arange(7)[:, None], np.array([0, 0, 0, 0, 1, 1, 2])
    Xs, ys = balanced(X, y, 5, seed=0)
    assert np.bincount(ys).tolist() == [1, 1, 1]


def test_convergence():
    h = np.r_[np.linspace(5, 1, 100), np.ones(100)]   # 95% of the drop 5 -> 1 is reached where h <= 1.2: index 95
    assert convergence(h, window=1)["epoch"] == 95
    assert convergence(np.full(60, 2.0))["epoch"] == 0   # no decrease: converged from the start
    with pytest.raises(ValueError, match="at least 2\\*window=50"): convergence(np.ones(49))
    with pytest.raises(ValueError, match="1-D"): convergence(np.ones((60, 2)))
    with pytest.raises(ValueError, match="fraction=1.5"): convergence(np.ones(60), fraction=1.5)


def test_check_results_refuses(res):
    with pytest.raises(ValueError, match="'header', 'records' and 'embeddings'"): check_results({"header": {}, "records": []})
    with pytest.raises(ValueError, match="'header', 'records' and 'embeddings'"): check_results([1, 2])
    bad = copy.deepcopy(res); del bad["header"]["git_commit"]
    with pytest.raises(ValueError, match=r"missing \['git_commit'\]"): check_results(bad)
    bad = copy.deepcopy(res); del bad["records"][3]["history"]
    with pytest.raises(ValueError, match=r"record 3: missing \['history'\]"): check_results(bad)
    bad = copy.deepcopy(res); bad["records"][0]["distribution_mismatch"] = None   # how a nan is saved
    with pytest.raises(ValueError, match=r"\['distribution_mismatch'\] not finite"): check_results(bad)
    bad = copy.deepcopy(res); bad["records"][0]["seconds"] = float("inf")
    with pytest.raises(ValueError, match=r"\['seconds'\] not finite"): check_results(bad)


def test_load_results_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m taskrel.exp.small_scale --out"): load_results(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text(json.dumps({"header": {}, "records": []}))
    with pytest.raises(ValueError, match="'embeddings'"): load_results(tmp_path / "bad.json")


def test_records_frame_bad_study(res):
    with pytest.raises(ValueError, match="study='fig6'"): records_frame(res, "fig6")


@pytest.mark.parametrize("argv", [["--scale", "gpu"], ["--parts", "fig9"], ["--seeds", "x"]])
def test_main_refuses(argv):
    with pytest.raises(SystemExit) as e: main(argv)
    assert e.value.code == 2
