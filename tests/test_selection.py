"""taskrel.selection: bad input, hand-countable Kendall, rank invariances, ties, and the sign conventions of score_zoo."""
import itertools
import math
import numpy as np
import pandas as pd
import pytest
import scipy.stats
from hypothesis import given, settings, strategies as st
from taskrel.selection import pearson, kendall, weighted_kendall, top1_hit, score_zoo

CORRELATIONS = [pearson, kendall, weighted_kendall]


@pytest.mark.parametrize("f", CORRELATIONS)
def test_correlations_reject_bad_input(f):
    with pytest.raises(ValueError, match=r"y: has 2 values but x has 3"): f([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match=r"x: a correlation needs at least 2 models, got 1"): f([1], [2])
    with pytest.raises(ValueError, match=r"x: expected one value per model \(1-D\)"): f([[1, 2], [3, 4]], [1, 2])
    with pytest.raises(ValueError, match=r"y: contains 1 NaN"): f([1, 2, 3], [1, np.nan, 3])


@pytest.mark.parametrize("f", CORRELATIONS)
def test_constant_vectors_give_nan(f):
    assert math.isnan(f([2, 2, 2], [1, 2, 3])) and math.isnan(f([1, 2, 3], [0.5, 0.5, 0.5]))


def _tau_b_by_counting(x, y):
    "Kendall's tau-b by enumerating all pairs."
    pairs = list(itertools.combinations(range(len(x)), 2))
    s = [np.sign(x[i] - x[j]) * np.sign(y[i] - y[j]) for i, j in pairs]
    n0 = len(pairs)
    tx = sum(x[i] == x[j] for i, j in pairs); ty = sum(y[i] == y[j] for i, j in pairs)
    return sum(s) / math.sqrt((n0 - tx) * (n0 - ty))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=3, max_size=9))
def test_kendall_counts_pairs_with_ties(xy):
    x, y = np.array(xy, float).T
    if np.all(x == x[0]) or np.all(y == y[0]): return
    np.testing.assert_allclose(kendall(x, y), _tau_b_by_counting(x, y), rtol=1e-12, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(-50, 50), min_size=3, max_size=8, unique=True),
       st.lists(st.integers(0, 100), min_size=3, max_size=8, unique=True))
def test_rank_correlations_ignore_monotone_transforms(s, a):
    n = min(len(s), len(a)); s, a = np.array(s[:n]) / 10, np.array(a[:n]) / 100   # distinct values, also after exp
    assert kendall(np.exp(s), a) == pytest.approx(kendall(s, a), abs=1e-12)
    assert weighted_kendall(np.exp(s), a) == pytest.approx(weighted_kendall(s, a), abs=1e-12)
    assert weighted_kendall(s, a) == pytest.approx(weighted_kendall(a, s), abs=1e-12)   # rank=True averages both orders
    np.testing.assert_allclose(pearson(s, a), np.corrcoef(s, a)[0, 1], rtol=1e-9, atol=1e-12)


def test_weighted_kendall_is_scipys_weightedtau():
    s, a = [0.3, 0.1, 0.9, 0.4, 0.2], [70, 60, 90, 65, 80]
    assert weighted_kendall(s, a) == scipy.stats.weightedtau(s, a).statistic
    assert weighted_kendall(s, a) != kendall(s, a)


def test_top1_hit_and_ties():
    acc = [0.7, 0.9, 0.8]
    assert top1_hit([1, 3, 2], acc) and not top1_hit([3, 1, 2], acc)
    assert top1_hit([3, 1, 2], acc, higher_is_better=False)
    assert not top1_hit([3, 3, 1], acc)                    # the metric cannot tell model 0 from the best model 1
    assert top1_hit([1, 3, 3], [0.7, 0.9, 0.9])            # both tied picks are best
    assert top1_hit([2, 2, 2], [0.5, 0.5, 0.5])


def test_score_zoo_checks_model_names():
    acc = {"a": 0.5, "b": 0.6, "c": 0.7}
    with pytest.raises(ValueError, match=r"missing scores for \['c'\], no accuracy for \['d'\]"):
        score_zoo({"a": 1, "b": 2, "d": 3}, acc)
    with pytest.raises(ValueError, match=r"scores: a correlation needs at least 2 models"):
        score_zoo({"a": 1}, {"a": 0.5})


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-3, 3, allow_nan=False), min_size=3, max_size=8, unique=True), st.randoms(use_true_random=False))
def test_score_zoo_sign_conventions_and_key_order(scores, rnd):
    names = [f"m{i}" for i in range(len(scores))]
    acc = {m: 0.5 + 0.01 * ((i * i + 3) % 11) + 0.001 * i for i, m in enumerate(names)}   # distinct, not sorted
    up = score_zoo(dict(zip(names, scores)), acc)
    down = score_zoo(dict(zip(names, [-s for s in scores])), acc, higher_is_better=False)
    for key in ["pearson", "kendall", "weighted_kendall"]:
        assert down[key] == pytest.approx(-up[key], abs=1e-12)
    assert (down["top1_hit"], down["best_by_score"]) == (up["top1_hit"], up["best_by_score"])
    shuffled = names[:]; rnd.shuffle(shuffled)
    again = score_zoo({m: dict(zip(names, scores))[m] for m in shuffled}, {m: acc[m] for m in shuffled})
    for key in ["pearson", "kendall", "weighted_kendall", "top1_hit", "n_models"]:
        assert again[key] == pytest.approx(up[key], abs=1e-12)


def test_score_zoo_weights_the_metrics_own_top_picks():
    "For a lower-is-better metric, the weighted tau must weigh the models with the lowest scores, not the highest."
    acc = {"a": 0.9, "b": 0.8, "c": 0.7, "d": 0.6, "e": 0.5}
    good_at_top = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 5.0, "e": 4.0}      # lower is better: best two right, bottom two swapped
    bad_at_top = {"a": 2.0, "b": 1.0, "c": 3.0, "d": 4.0, "e": 5.0}       # best two swapped
    g, b = score_zoo(good_at_top, acc, False), score_zoo(bad_at_top, acc, False)
    assert g["kendall"] == pytest.approx(b["kendall"])                   # plain tau cannot tell them apart
    assert g["weighted_kendall"] < b["weighted_kendall"] < 0             # more negative = better for lower-is-better
    assert g["top1_hit"] and not b["top1_hit"]


def test_score_zoo_returns_one_table_row():
    row = score_zoo({"x": 1.0, "y": 3.0, "z": 2.0}, {"x": 0.1, "y": 0.3, "z": 0.2})
    assert row == {"pearson": pytest.approx(1.0), "kendall": pytest.approx(1.0), "weighted_kendall": pytest.approx(1.0),
                   "top1_hit": True, "n_models": 3, "best_by_score": "y", "best_by_accuracy": "y"}
    flat = score_zoo({"x": 1.0, "y": 1.0, "z": 1.0}, {"x": 0.1, "y": 0.3, "z": 0.2})
    assert math.isnan(flat["pearson"]) and not flat["top1_hit"]


# ---- rank_models and load_feature_dir ----------------------------------------------------------------------------
from taskrel.selection import rank_models, load_feature_dir, parse_metrics, ranking_table, METRICS, BASELINES

FAST = dict(epochs=5, batch_size=60, probe=dict(epochs=20), tau=0.2)


def _zoo(seps=(("good", 4.0), ("bad", 0.0)), n=20, d=6, with_p=True):
    "Blob tasks (reference 4 classes, target 2) per model; class k centred at sep * e_k; target labels shared."
    zoo = {}
    for i, (name, sep) in enumerate(seps):
        rng = np.random.default_rng(i)
        blob = lambda K: (rng.normal(size=(n * K, d)) + sep * np.eye(d)[np.repeat(np.arange(K), n)], np.repeat(np.arange(K), n))
        (zr, yr), (zrt, yrt), (zt, yt), (ztt, ytt) = blob(4), blob(4), blob(2), blob(2)
        tgt = dict(z=zt, y=yt, z_test=ztt, y_test=ytt)
        if with_p:
            e = np.exp(zt[:, :4]); tgt["p"] = e / e.sum(1, keepdims=True)
        zoo[name] = dict(reference=dict(z=zr, y=yr, z_test=zrt, y_test=yrt), target=tgt)
    return zoo


def test_rank_models_table_layout_and_picks():
    df = rank_models(_zoo(), progress=False, **FAST)
    assert list(df["model"]) == ["good", "bad"]
    for m in METRICS:
        assert f"rank_{m}" in df and df.attrs["picks"][m] == "good", m
    assert df.attrs["notes"] == [] and df.attrs["metrics"] == list(METRICS)
    assert df["error"].isna().all()
    assert set(df.attrs["higher_is_better"]) == set(METRICS) and df.attrs["higher_is_better"]["pactran"] is False


def test_tuple_entries_and_metric_subset():
    zoo = {k: (v["reference"], v["target"]) for k, v in _zoo().items()}
    df = rank_models(zoo, metrics=["LogME", "pactran"], progress=False)
    assert df.attrs["metrics"] == ["logme", "pactran"] and "task_relatedness" not in df
    assert list(df["model"]) == ["good", "bad"]                  # sorted by the first metric computed (LogME)
    assert df["rank_pactran"].tolist() == [1, 2]                 # lower PACTran is better


def test_missing_p_skips_leep_and_nce_with_a_note():
    zoo = _zoo(with_p=False)
    df = rank_models(zoo, metrics="leep,nce,logme", progress=False)
    assert df.attrs["metrics"] == ["logme"]
    assert len(df.attrs["notes"]) == 2 and all("no target 'p'" in n for n in df.attrs["notes"])


def test_label_free_runs_only_task_relatedness():
    zoo = _zoo()
    for v in zoo.values(): v["target"] = {k: a for k, a in v["target"].items() if k not in ("y", "y_test")}
    df = rank_models(zoo, target_labels=False, n_target_classes=2, progress=False, **FAST)
    assert df.attrs["metrics"] == ["task_relatedness"] and len(df.attrs["notes"]) == 8
    assert np.isfinite(df["task_relatedness"]).all() and df["tr_transferability"].isna().all()


def test_ranks_share_ties_and_skip():
    res = [dict(model=m, metric="logme", values={"logme": v}, error=None, seconds=0.0) for m, v in [("a", 1.0), ("b", 2.0), ("c", 2.0), ("d", np.nan)]]
    df = ranking_table(res, ["a", "b", "c", "d"], ["logme"])
    assert df.set_index("model")["rank_logme"].fillna(-1).to_dict() == {"b": 1, "c": 1, "a": 3, "d": -1}   # no rank without a score
    assert list(df["model"]) == ["b", "c", "a", "d"]



def test_one_failing_job_loses_no_other_row():
    zoo = _zoo(seps=(("good", 4.0), ("bad", 0.0), ("broken", 1.0)))
    zoo["broken"]["target"]["p"] = zoo["broken"]["target"]["p"] * 3       # not a distribution: LEEP raises in its job
    df = rank_models(zoo, metrics="leep,nce,logme", progress=False).set_index("model")
    assert "leep: ValueError" in df.loc["broken", "error"] and np.isnan(df.loc["broken", "leep"])
    assert np.isfinite(df.loc["broken", "nce"]) and np.isfinite(df.loc[["good", "bad"], "leep"]).all()


@pytest.mark.parametrize("mutate, message", [
    (lambda z: z["bad"]["target"].update(z=np.ones((40, 3))), r"features\['bad'\]\['target'\]\['z'\]: has d=3 features but features\['bad'\]\['reference'\]\['z'\] has d=6"),
    (lambda z: z["bad"]["reference"].pop("y"), r"features\['bad'\]\['reference'\]: missing array 'y'"),
    (lambda z: z["bad"]["target"].update(y=z["bad"]["target"]["y"][::-1].copy()), r"features\['bad'\]\['target'\]\['y'\]: differs from features\['good'\]"),
    (lambda z: z["bad"]["target"].update(p=np.ones((7, 4)) / 4), r"features\['bad'\]\['target'\]\['p'\]: has 7 rows but"),
    (lambda z: z["bad"]["target"].pop("y_test"), r"features\['bad'\]\['target'\]: missing array 'y_test'"),
    (lambda z: z.update(bad=[1, 2, 3]), r"features\['bad'\]: expected dict\(reference="),
])
def test_bad_input_names_model_array_and_fix(mutate, message):
    zoo = _zoo(); mutate(zoo)
    with pytest.raises(ValueError, match=message): rank_models(zoo, progress=False, **FAST)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"metrics: unknown name\(s\) \['leap'\]"): rank_models(_zoo(), metrics="leap")
    with pytest.raises(ValueError, match=r"n_target_classes: required with target_labels=False"): rank_models(_zoo(), target_labels=False)
    with pytest.raises(ValueError, match=r"jobs=0"): rank_models(_zoo(), jobs=0)
    with pytest.raises(ValueError, match=r"unknown argument\(s\) \['epoch'\]"): rank_models(_zoo(), epoch=3)
    with pytest.raises(ValueError, match=r"features: expected a non-empty dict"): rank_models({})
    assert parse_metrics("tr, H-score") == ["task_relatedness", "hscore"]


def _write(zoo, root):
    for name, e in zoo.items():
        (root / name).mkdir()
        for part in ("reference", "target"): np.savez(root / name / f"{part}.npz", **e[part])


def test_load_feature_dir_round_trip_and_errors(tmp_path):
    zoo = _zoo(); _write(zoo, tmp_path)
    back = load_feature_dir(tmp_path)
    assert sorted(back) == ["bad", "good"]
    np.testing.assert_array_equal(back["good"]["target"]["p"], zoo["good"]["target"]["p"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"model 'empty': missing file .*empty/reference.npz"): load_feature_dir(tmp_path)
    (tmp_path / "empty").rmdir()
    np.savez(tmp_path / "bad" / "reference.npz", z=np.ones((4, 6)))
    with pytest.raises(ValueError, match=r"model 'bad': .*reference.npz lacks array\(s\) \['y'\]"): load_feature_dir(tmp_path)
    np.savez(tmp_path / "bad" / "reference.npz", z=np.ones((4, 6)), y=np.arange(4), w=np.ones(3))
    with pytest.raises(ValueError, match=r"unknown array\(s\) \['w'\]"): load_feature_dir(tmp_path)
    (tmp_path / "bad" / "reference.npz").write_text("not a zip")
    with pytest.raises(ValueError, match=r"model 'bad': cannot read .*reference.npz as .npz"): load_feature_dir(tmp_path)
    with pytest.raises(ValueError, match=r"not a directory"): load_feature_dir(tmp_path / "nope")


def test_joblib_and_dask_equal_sequential():
    "The grid on two loky processes and on a two-worker Dask LocalCluster gives the sequential table, value for value."
    from distributed import Client, LocalCluster
    zoo = _zoo(seps=(("good", 4.0), ("mid", 1.5), ("bad", 0.0)))
    seq = rank_models(zoo, progress=False, **FAST).drop(columns="seconds")
    par = rank_models(zoo, jobs=2, progress=False, **FAST).drop(columns="seconds")
    pd.testing.assert_frame_equal(par, seq, check_exact=True)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
        by_address = rank_models(zoo, scheduler=cluster.scheduler_address, progress=False, **FAST).drop(columns="seconds")
        by_client = rank_models(zoo, scheduler=client, progress=False, metrics="logme,tr", **FAST)
        assert client.status == "running"                  # a Client passed in is not closed by rank_models
    pd.testing.assert_frame_equal(by_address, seq, check_exact=True)
    assert by_client.attrs["picks"] == {"task_relatedness": seq.attrs["picks"]["task_relatedness"], "logme": seq.attrs["picks"]["logme"]}


def test_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(ConnectionError, match=r"scheduler='tcp://127.0.0.1:9': cannot connect"):
        rank_models(_zoo(), metrics="logme", scheduler="tcp://127.0.0.1:9", progress=False)
