"""taskrel.exp.model_selection: settings, the command line at the tiny scale, and the analyses on synthetic records whose answers are known."""
import json
import numpy as np
import pandas as pd
import pytest
from taskrel import results
from taskrel.exp import model_selection as ms

MODELS = ["a", "b", "c", "d", "e"]
TARGETS = ["USPS", "MNIST", "FMNIST", "Digits"]


def _res(score_of, seeds=(0, 1), targets=TARGETS):
    "A results dict with accuracies acc(model, target) + seed noise and every score column given by score_of(acc, model, target, column)."
    recs = []
    for i, m in enumerate(MODELS):
        for j, t in enumerate(targets):
            acc = 0.5 + 0.08 * i + 0.03 * j - 0.01 * (i * j % 3)
            scores = {c: score_of(acc, m, t, c) for c in ms.SCORE_NAMES}
            for s in seeds:
                recs.append(dict(model=m, target=t, seed=s, finetune_accuracy=acc + 0.002 * s, linear_probe_accuracy=acc - 0.1) | scores)
    return {"header": {"scale": "synthetic", "seeds": list(seeds)}, "records": recs}


def _perfect(acc, m, t, c):
    "Every score a perfect, correctly signed function of the accuracy."
    return -3 * acc if not ms.higher_is_better(c) else np.exp(acc)


def test_scales_and_zoo():
    assert len(ms.ZOO) >= 10 and len(ms.TARGETS) >= 3
    for scale in ms.SCALES:
        cfg = ms.scale_config(scale)
        assert set(cfg["presets"]) == {"certified", "authors-large"} and len(cfg["seeds"]) >= 2
    with pytest.raises(ValueError, match=r"members=\['lite0', 'resnet'\]: \['resnet'\] unknown"): ms.scale_config("cpu", members=["lite0", "resnet"])
    with pytest.raises(ValueError, match=r"a ranking needs at least 3 models"): ms.scale_config("cpu", members=["lite0", "pca"])
    with pytest.raises(ValueError, match=r"scale='huge'"): ms.scale_config("huge")


def test_to_28px():
    X = (np.arange(2 * 8 * 8) % 17 * 15).astype(np.uint8).reshape(2, 8, 8)
    Y = ms.to_28px(X)
    assert Y.shape == (2, 28, 28) and Y.dtype == np.uint8
    Z = np.zeros((3, 28, 28), np.uint8); assert ms.to_28px(Z) is Z


def test_perfect_scores_give_perfect_tables():
    res = _res(_perfect)
    t1 = ms.table1(res)
    assert list(t1.index) == TARGETS + ["Average", "Average (paper)"]
    here = t1.drop(index="Average (paper)")
    assert np.allclose(here["PACTran"], -1, atol=0.02) and np.allclose(here["TR (certified)"], -1, atol=0.02)   # -3 acc is exactly linear
    assert (here["LogME"] > 0.99).all()                                                                          # exp(acc) nearly linear
    assert np.allclose(ms.signed(here), here.abs(), atol=1e-12)
    wk = ms.correlations(res, "weighted_kendall")
    assert np.allclose(ms.signed(wk).values, 1)
    picks = ms.picks_table(res)
    assert (picks["best by accuracy"] == "e").all() and picks.drop(columns="best by accuracy").map(lambda v: v == "e*").all().all()
    c = ms.claims(res)
    assert c["holds"].tolist() == [True, True, False, True, True, True, True, True, True]   # claim 3 (LogME/NCE flip sign) fails here
    assert "holds here" in ms.verdict(res) and "does not hold here" in ms.verdict(res)
    assert "-1.00 (certified)" in ms.closing_note(res)


def test_fig11_statistic_per_model():
    "Within a model the accuracy varies over targets; a TR that decreases with it gives r = -1 for every model."
    res = _res(_perfect)
    r = ms.per_model_correlation(res, "tr_certified")
    assert list(r.index) == MODELS and np.allclose(r, -1)
    assert ms.per_model_correlation(_res(_perfect, targets=TARGETS[:2]), "tr_certified").isna().all()   # fewer than 3 targets


def test_wrong_sign_and_infinite_scores():
    flipped = _res(lambda acc, m, t, c: 3 * acc if c.startswith("tr_") else _perfect(acc, m, t, c))
    c = ms.claims(flipped).set_index(["claim", "preset"])["holds"]
    assert not c[("1. TR: r <= -0.5 on every target", "certified")] and not c[("5. Fig. 11: r < 0 across targets for every model", "certified")]
    inf = _res(lambda acc, m, t, c: np.inf if (c == "tr_authors_large_pseudo" and m in "ab") else _perfect(acc, m, t, c))
    t2 = ms.table2(inf)
    assert np.allclose(t2["TR (authors-large, pseudo)"], -1, atol=0.02)           # the 3 finite models still give a correlation
    none = _res(lambda acc, m, t, c: np.inf if c == "tr_authors_large_pseudo" else _perfect(acc, m, t, c))
    assert ms.table2(none)["TR (authors-large, pseudo)"].isna().all()
    c = ms.claims(none).set_index(["claim", "preset"])["holds"]
    assert c[("4. pseudo-label TR: r <= -0.5 on most targets", "authors_large")] is None


def test_command_line_tiny(tmp_path, capsys):
    out = tmp_path / "ms.json"
    res = ms.main(["--scale", "tiny", "--out", str(out), "--allow-dirty", "--no-progress", "--targets", "USPS", "Digits", "MNIST",
                   "--members", "lite0", "convnet_small", "random_convnet", "pca"])
    assert "wrote" in capsys.readouterr().out
    back = results.load(out)
    assert back["header"]["scale"] == "tiny" and back["header"]["figure"] == "model_selection"
    assert back["header"]["command"].startswith("python -m taskrel.exp.model_selection --scale tiny")
    assert len(back["records"]) == 4 * 3 * 2 == len(res["records"])
    for r in back["records"]:
        for k in (*ms.RECORD_KEYS, *ms.TR_COLUMNS): assert k in r, k
    json.loads(out.read_text())                                                    # strict JSON
    t1 = ms.table1(back)
    assert t1.shape == (5, 10)
    assert ms.per_model_correlation(back, "tr_certified").notna().all()            # 3 targets: Fig. 11 can be computed
