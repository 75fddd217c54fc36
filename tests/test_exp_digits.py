"""taskrel.exp.digits: configuration checks, the results-file records (including the saved files the book draws from,
once they have the taskrel.results schema), the readers (matrices, rank correlation, claims) on hand-made records, and the
command line."""
import json, math, os
from pathlib import Path
import numpy as np
import pytest
import torch
from taskrel import results
from taskrel.exp.runner import DIGITS as NAMES, producing_modules, theorem3_holds
from taskrel.exp.digits import (SCALES, scale_config, check_records, merge_results, results_file, pair_matrix, rank_correlation,
                                paper_rank_correlation, fig4a_claims, fig4b_claims, fig4a_verdict, fig4b_verdict, fig4a_table,
                                summary, main, RECORD_KEYS, PAPER_FIG4A, ABLATIONS, ablation_key, ablation_table)

torch.set_num_threads(1)


def record(ref, tgt, seed, tr, tf, enc="LeNet", authors=None, **kw):
    "A hand-made record whose bound is split 50/0/50 between its terms; `authors` = (bound, transferability) of a second preset."
    b = lambda tr, tf, name: dict(task_relatedness=tr, reweighted_loss=tr / 2, label_mismatch=0.0, distribution_mismatch=tr / 2, tau=0.2,
                                  transferability=tf, transformed_reference_loss=tf, preset=dict(name=name))
    bounds = {"certified": b(tr, tf, "certified")} | ({"authors-digits": b(*authors, "authors-digits")} if authors else {})
    top = {k: v for k, v in bounds["certified"].items() if k != "preset"}
    return dict(reference=ref, target=tgt, encoder=enc, seed=seed, preset="certified", reference_accuracy=0.9, bounds=bounds) | top | kw


def results_of(recs, scale="cpu", figure="fig4a"):
    presets = list(dict.fromkeys(p for r in recs for p in r["bounds"]))
    cfg = dict(references=list(NAMES), seeds=sorted({r["seed"] for r in recs}), presets=presets, epochs=3)
    h = results.header(figure, "test", cfg, cfg["seeds"], ["taskrel.exp.digits"], allow_dirty=True, extra=dict(scale=scale))
    return {"header": h, "records": recs}


def paper_like(noise=0.0):
    "The paper's Fig. 4a values as three seeds, seed s shifted by s * noise."
    return results_of([record(r, t, s, tr + s * noise, tf + s * noise, authors=(tr + 1, tf)) for s in range(3) for (r, t), (tr, tf) in PAPER_FIG4A.items()])


# ---- configuration and subsets ----
@pytest.mark.parametrize("args,kw,match", [
    (("fig4c", "cpu"), {}, r"fig='fig4c': choose one of"),
    (("fig4a", "gpu"), {}, r"scale='gpu': choose one of"),
    (("fig4a", "cpu"), dict(pca_dim=3), r"\['pca_dim'\] are not settings of fig4a"),
    (("fig4b", "cpu"), dict(references=["MNIST", "SVHN"]), r"\['SVHN'\] not among"),
    (("fig4b", "cpu"), dict(pca_dim=1000), r"pca_dim=1000 >= the 1000 reference points"),
])
def test_scale_config_refuses_bad_input(args, kw, match):
    with pytest.raises(ValueError, match=match):
        scale_config(*args, **kw)


def test_scales_respect_the_paper_settings():
    for fig in ("fig4a", "fig4b"):
        for scale in ("full", "cpu"):
            c = scale_config(fig, scale)
            assert c["tau"] == 0.2 and c["seeds"] == (0, 1, 2) and set(c["references"]) == set(NAMES)
    a, b = scale_config("fig4a", "cpu"), scale_config("fig4b", "cpu")
    assert a["batch_size"] > 200, "Alg. 1 needs a batch larger than the LeNet's 200-d features (App. D)"
    assert b["batch_size"] > b["pca_dim"] and b["pca_dim"] <= 128
    assert scale_config("fig4b", "full")["batch_size"] > scale_config("fig4b", "full")["pca_dim"]
    assert scale_config("fig4a", "cpu", seeds=[3], references=None)["seeds"] == (3,)   # None keeps the default


# ---- results files ----
def test_check_records_names_what_is_missing():
    with pytest.raises(ValueError, match="'header' dict and a 'records' list"):
        check_records([])
    with pytest.raises(ValueError, match="old results layout"):
        check_records({"header": {"command": "x"}, "records": []})
    bad = paper_like(); del bad["records"][4]["reference_accuracy"]
    with pytest.raises(ValueError, match=r"record 4: missing \['reference_accuracy'\]"):
        check_records(bad)


def _save(res, path):
    h = res["header"]
    return results.save(path, res["records"], figure=h["figure"], command="test", config=h["config"], seeds=h["seeds"],
                        modules=producing_modules(), allow_dirty=True, extra_header=dict(scale=h["scale"], wall_seconds=2.0))


def test_merge_joins_seeds_and_refuses_mixed_scales(tmp_path):
    one = results_of([record("MNIST", "USPS", 0, 3.0, 1.0)]); two = results_of([record("MNIST", "USPS", 1, 3.2, 1.1)])
    m = merge_results([_save(one, tmp_path / "1.json"), _save(two, tmp_path / "2.json")], out=tmp_path / "m.json", allow_dirty=True)
    assert len(m["records"]) == 2 and m["header"]["seeds"] == [0, 1] and len(m["header"]["merged_from"]) == 2
    assert m["header"]["wall_seconds"] == 4.0 and results.load(tmp_path / "m.json")["records"] == m["records"]
    full = results_of([record("MNIST", "USPS", 2, 3.0, 1.0)], scale="full")
    with pytest.raises(ValueError, match="differ in their header's 'scale'"):
        merge_results([tmp_path / "1.json", _save(full, tmp_path / "3.json")])


# ---- readers, on hand-made records with known answers ----
def test_pair_matrix_means_and_stds():
    res = results_of([record("MNIST", "USPS", s, 3.0 + s, 1.0) for s in range(3)] + [record("USPS", "MNIST", 0, 2.0, 1.5)])
    m, sd = pair_matrix(res, "task_relatedness"), pair_matrix(res, "task_relatedness", stat="std")
    assert list(m.index) == list(NAMES) == list(m.columns)
    np.testing.assert_allclose(m.loc["MNIST", "USPS"], 4.0, rtol=0, atol=1e-12)   # mean of 3, 4, 5
    np.testing.assert_allclose(sd.loc["MNIST", "USPS"], 1.0, rtol=0, atol=1e-12)  # sample std of 3, 4, 5
    assert math.isnan(m.loc["MNIST", "MNIST"]) and math.isnan(m.loc["FMNIST", "USPS"])
    assert summary(res).loc[("MNIST", "USPS", "LeNet"), "seeds"] == 3


def test_rank_correlation_on_known_orders():
    rec = lambda k, a, b: record(list(NAMES)[k // 2], [t for t in NAMES if t != list(NAMES)[k // 2]][k % 2], 0, a, b)
    same = results_of([rec(k, 2.0 + k, 1.0 + k / 10) for k in range(6)])
    flip = results_of([rec(k, 2.0 + k, 2.0 - k / 10) for k in range(6)])
    np.testing.assert_allclose(rank_correlation(same)["spearman"], 1.0, atol=1e-12)
    np.testing.assert_allclose(rank_correlation(flip)["spearman"], -1.0, atol=1e-12)
    np.testing.assert_allclose(paper_rank_correlation()["spearman"], 1 - 6 * 8 / 210, atol=1e-12)  # by hand from TARGETS.md


def test_fig4a_claims_hold_on_the_paper_values_and_fail_when_flipped():
    c = fig4a_claims(paper_like(noise=0.01))
    assert c["orderings_agree"] and c["digits_pair_best"] == {"MNIST": "USPS", "USPS": "MNIST"}
    assert c["bound_above_transferability"] == c["n_records"] == 18
    np.testing.assert_allclose(c["rank"]["spearman"], paper_rank_correlation()["spearman"], atol=1e-12)
    flipped = paper_like()
    for i in (1, 7, 13): flipped["records"][i]["transferability"] = 9.0   # MNIST->USPS (every seed) made the worst target
    c2 = fig4a_claims(flipped)
    assert not c2["per_reference"]["MNIST"]["agree"] and not c2["orderings_agree"]
    assert c2["bound_above_transferability"] == 15
    assert "orderings DISAGREE" in fig4a_verdict(flipped)


def test_fig4b_claims_compare_pe_and_ffe():
    recs = [record("MNIST", "USPS", s, 3.0, 1.8, "PE") | dict(reference_accuracy=0.8) for s in range(2)]
    recs += [record("MNIST", "USPS", s, 2.5, 1.6, "FFE") | dict(reference_accuracy=0.95) for s in range(2)]
    recs += [record("MNIST", "FMNIST", s, 3.0, 1.7, "PE") for s in range(2)] + [record("MNIST", "FMNIST", s, 3.1, 1.9, "FFE") for s in range(2)]
    c = fig4b_claims(results_of(recs, figure='fig4b'))
    assert c["pairs"][("MNIST", "USPS")]["related"] and c["pairs"][("MNIST", "USPS")]["ffe_transfers_better"]
    assert c["pairs"][("MNIST", "USPS")]["ffe_bound_tighter"]
    assert not c["pairs"][("MNIST", "FMNIST")]["related"] and not c["pairs"][("MNIST", "FMNIST")]["ffe_transfers_better"]
    assert "FFE NOT better" in fig4b_verdict(results_of(recs, figure='fig4b'))


def test_authors_preset_is_read_as_its_own_columns():
    res = paper_like(noise=0.01)
    s = summary(res)
    np.testing.assert_allclose(s.loc[("MNIST", "USPS", "LeNet"), "task_relatedness[authors-digits]"], 2.80 + 1, atol=1e-12)   # no noise on the second preset
    c = fig4a_claims(res, quantity="task_relatedness[authors-digits]")
    assert c["orderings_agree"] and c["bound_above_transferability"] == 18
    np.testing.assert_allclose(c["smallest_gap"], min(tr - tf for tr, tf in PAPER_FIG4A.values()) + 1, atol=1e-9)
    assert "With preset 'authors-digits': orderings agree for 3 of 3 references" in fig4a_verdict(res)
    t = fig4a_table(res)
    assert {"TR (certified)", "TR (authors-digits)", "transf. (authors-digits)"} <= set(t.columns) and len(t) == 6


# ---- the saved files the book draws its figures from ----
SAVED = [(f, results_file(f, sc)) for f, sc in (("fig4a", "cpu"), ("fig4b", "cpu"), ("fig4a", "cpu-all"), ("fig4b", "cpu-all"))]


@pytest.mark.parametrize("fig,path", SAVED, ids=[p.stem for _, p in SAVED])
def test_saved_results_files_follow_the_schema(fig, path):
    if not path.exists(): pytest.skip(f"{path} not generated yet")
    try: res = check_records(results.load(path))
    except results.OldSchemaError as e:
        print(f"OLD SCHEMA: {e}")
        pytest.skip(f"{path.name}: old results schema; regenerate with python -m taskrel.exp.digits {fig} --scale cpu")
    h = res["header"]
    assert h["figure"] == fig and h["scale"] in ("full", "cpu", "cpu-all") and h["config"]["presets"] == ["certified", "authors-digits"]
    runs = [m["command"] for m in h.get("merged_from", [])] or [h["command"]]   # a merged file: the commands of the runs it joins
    assert all(c.startswith("python -m taskrel.exp.digits " + fig) for c in runs) and len(h["git_commit"] or "") == 40
    assert len(h["seeds"]) == 3 and "taskrel/exp/digits.py" in h["source_sha256"]
    encs = {"fig4a": {"LeNet"}, "fig4b": {"PE", "FFE"}}[fig]
    keys = [(r["reference"], r["target"], r["encoder"], r["seed"]) for r in res["records"]]
    assert len(keys) == len(set(keys)), "one record per (reference, target, encoder, seed)"
    expected = {(r, t, e, s) for r in h["config"]["references"] for t in NAMES if t != r for e in encs for s in h["seeds"]}
    assert set(keys) == expected
    ablations = h["config"].get("ablations") or {}
    for r in res["records"]:
        assert list(r["bounds"]) == ["certified", "authors-digits"] + [ablation_key("certified", a) for a in ablations] and r["preset"] == "certified"
        for p, b in r["bounds"].items():
            assert b["label_mismatch"] == 0.0 and b["preset"]["tau"] == 0.2   # B a permutation (Corollary 3)
            assert b["transferability"] > 0
            knob = ablations.get(p.partition(" | ")[2], {})
            assert b["preset"]["setting"] == knob.get("setting", "LearnedA")
            assert theorem3_holds(b) in (True, None), (r["reference"], r["target"], p)   # a certified bound lies above its target loss
        assert 0.0 <= r["reference_accuracy"] <= 1.0
        assert r["feature_dim"] < h["config"]["batch_size"]


# ---- the command line and one tiny end-to-end run ----
@pytest.mark.parametrize("argv", [["fig5"], ["fig4a", "--scale", "gpu"], ["merge", "only_out.json"], ["fig4a", "--references", "SVHN"]])
def test_cli_refuses_bad_arguments(argv):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2


def test_tiny_run_through_the_command_line(tmp_path):
    out = tmp_path / "a.json"
    res = main(["fig4a", "--scale", "tiny", "--references", "USPS", "--out", str(out), "--no-progress", "--allow-dirty"])
    back = check_records(results.load(out))
    assert back["header"]["command"] == f"python -m taskrel.exp.digits fig4a --scale tiny --references USPS --out {out} --no-progress --allow-dirty"
    assert back["header"]["scale"] == "tiny" and [(r["reference"], r["target"]) for r in back["records"]] == [("USPS", "MNIST"), ("USPS", "FMNIST")]
    assert torch.get_num_threads() == 1   # the CPU scales default to one thread
    assert res["records"][0]["task_relatedness"] == back["records"][0]["task_relatedness"]
    assert list(back["records"][0]["bounds"]) == ["certified", "authors-digits"] + [ablation_key("certified", a) for a in ABLATIONS]


def test_ablation_table_ranks_every_variant_against_the_main_transferability():
    "An ablation whose bound reverses the paper's order scores Spearman -1 against the main preset's transferability, even when its own target loss would agree with it."
    recs = []
    for s in range(3):
        for (r, t), (tr, tf) in PAPER_FIG4A.items():
            rec = record(r, t, s, tr, tf)
            rec["bounds"][ablation_key("certified", "reversed")] = dict(rec["bounds"]["certified"], task_relatedness=10 - tf, transferability=10 - tf - 1)
            recs.append(rec)
    res = results_of(recs)
    res["header"]["config"] |= dict(presets=["certified"], ablations={"reversed": dict(tau_source="fixed")})
    t = ablation_table(res)
    assert list(t.index) == ["certified", "reversed"] and t.loc["reversed", "knob"] == "tau_source=fixed"
    assert t.loc["reversed", "spearman"] == pytest.approx(-1.0, abs=1e-12) and t.loc["reversed", "agree"] == 0
    assert t.loc["certified", "spearman"] == pytest.approx(paper_rank_correlation()["spearman"], abs=1e-12)
    assert t.loc["reversed", "above"] == 18 and t.loc["reversed", "bound_min"] == pytest.approx(10 - 1.77, abs=1e-12)


def test_cpu_all_scale_trains_on_every_image_to_convergence_and_probes_to_their_tau():
    from taskrel.exp.runner import preset_overrides
    c = scale_config("fig4a", "cpu-all")
    assert c["train_per_class"] == "all" and c["encoder_patience"] >= 1 and c["tau"] == 0.2 and c["batch_size"] > 200
    over = preset_overrides(c)
    assert all(o["probe"]["tau_tolerance"] == 0.1 for o in over.values()), over
    assert "probe" not in preset_overrides(scale_config("fig4a", "cpu"))["authors-digits"]   # the other scales keep the recipes' own probes
    b = scale_config("fig4b", "cpu-all")
    assert b["ft_patience"] >= 1 and b["ft_per_class"] == SCALES["fig4b"]["full"]["ft_per_class"] and b["probe_tau_tolerance"] == 0.1


def test_saved_fig4b_cpu_all_fine_tunes_to_convergence_with_probes_at_tau():
    path = results_file("fig4b", "cpu-all")
    if not path.exists(): pytest.skip(f"{path} not generated yet")
    res = results.load(path)
    cap = res["header"]["config"]["ft_epochs"]
    for r in res["records"]:
        if r["encoder"] == "FFE":   # stopped by the rule, before the cap, and the best epoch's weights kept
            assert r["encoder_converged"] and r["encoder_epochs_run"] < cap and r["encoder_best_epoch"] <= r["encoder_epochs_run"] - 2
        else: assert r["n_encoder_train"] == 0 and "encoder_converged" not in r
        for p, b in r["bounds"].items():   # every probe's penalised gradient norm within 10% of tau, measured on its own data
            assert all(abs(v / b["preset"]["tau"] - 1) <= 0.1 + 1e-9 for v in b["probe_grad_norms"].values()), (r["reference"], r["target"], p)
