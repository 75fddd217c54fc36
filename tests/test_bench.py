"Bad input and the load guard of `python -m taskrel.bench` (the notebook nbs/08_bench.ipynb tests the normal runs)."
import os
import pytest
from taskrel import bench


@pytest.fixture
def busy(monkeypatch):
    "A machine whose 1-minute load is far above its cores."
    monkeypatch.setattr(os, "getloadavg", lambda: (99.0, 99.0, 99.0))


def test_require_quiet_refuses_on_a_busy_machine(busy, tmp_path, capsys):
    out = tmp_path / "a.json"
    assert bench.main(["alg1", "--scale", "tiny", "--require-quiet", "--allow-dirty", "--out", str(out)]) == 3
    assert not out.exists() and "refusing: 1-minute load 99.00" in capsys.readouterr().err


def test_busy_run_is_flagged_and_judges_nothing(busy):
    with pytest.warns(UserWarning, match="not a fair comparison"):
        res = bench.bench_alg1(["tiny"], methods=["authors LearnedA", "taskrel fast LearnedA"])
    assert res["load"]["load_ok"] is False and res["load"]["max_load_1min"] == 99.0
    headline = [v for v in bench.alg1_verdicts(res) if "value" in v]
    assert len(headline) == 1 and headline[0]["held"] is None
    assert all(v["held"] for v in bench.alg1_verdicts(res) if "value" not in v)   # the checks still judge


def test_bad_arguments():
    with pytest.raises(SystemExit) as e: bench.build_parser().parse_args(["alg1", "--scale", "imagenet"])
    assert e.value.code == 2
    with pytest.raises(ValueError, match="at least 3 rounds"): bench.bench_alg1(["tiny"], rounds=2)
    with pytest.raises(ValueError, match=r"unknown \['huge'\]"): bench.bench_alg1(["tiny", "huge"])


def test_transport_check_fails_when_the_label_cost_is_weak():
    inputs = bench.alg1_inputs(batch=60, d=8, k=3)
    assert bench.authors_transport_check(inputs)["ok"]
    assert not bench.authors_transport_check(inputs, nu=1e-3)["ok"]


SMALL = dict(n=300, d=8, k=4, n_source_classes=10, n_ot=60)


def test_busy_metrics_run_withholds_speed_but_judges_values(busy):
    with pytest.warns(UserWarning, match="not a fair comparison"):
        res = bench.bench_metrics(**SMALL, devices=["cpu"])
    speed = [v for v in bench.metrics_verdicts(res) if "as fast" in v["claim"]]
    values = [v for v in bench.metrics_verdicts(res) if "same value" in v["claim"]]
    assert len(speed) == len(values) == 8
    assert all(v["held"] is None for v in speed) and all(v["held"] for v in values)


def test_a_value_that_differs_from_the_official_code_is_not_held(monkeypatch):
    from taskrel.reference import metrics as ref
    monkeypatch.setitem(ref.OFFICIAL, "nce", lambda source_labels, labels: 123.0)   # a wrong yardstick
    res = bench.bench_metrics(**SMALL, devices=["cpu"])
    wrong = [v for v in bench.metrics_verdicts(res) if v["claim"].startswith("nce: the same value")]
    assert len(wrong) == 1 and wrong[0]["held"] is False and wrong[0]["value"] > 1e-3


def test_metrics_command_exits_1_when_a_value_differs(monkeypatch, tmp_path):
    from taskrel.reference import metrics as ref
    monkeypatch.setitem(ref.OFFICIAL, "nce", lambda source_labels, labels: 123.0)
    args = ["metrics", "--n", "300", "--d", "8", "--k", "4", "--n-ot", "60", "--n-source-classes", "10", "--devices", "cpu"]
    assert bench.main(args + ["--allow-dirty", "--out", str(tmp_path / "m.json")]) == 1
    assert (tmp_path / "m.json").exists()                                   # the evidence is kept


def test_metrics_require_quiet_refuses_on_a_busy_machine(busy, tmp_path, capsys):
    out = tmp_path / "m.json"
    assert bench.main(["metrics", "--n", "300", "--d", "8", "--require-quiet", "--allow-dirty", "--out", str(out)]) == 3
    assert not out.exists() and "refusing" in capsys.readouterr().err


def _targets_result(full_s, fast_bound, dense_bound, demo_s, load_ok=True):
    "A bench_targets result as the verdicts read it (records and the load guard only)."
    return {"load": {"load_ok": load_ok},
            "records": [{"run": "full estimate, pets scale", "epochs": 2000, "seconds": full_s},
                        {"run": "MNIST -> USPS, solver auto", "epochs": 2000, "bound": fast_bound},
                        {"run": "MNIST -> USPS, solver emd", "epochs": 2000, "bound": dense_bound},
                        {"run": "taskrel demo", "seconds": demo_s}]}


def test_targets_verdicts_judge_each_target():
    held = [v["held"] for v in bench.targets_verdicts(_targets_result(59.0, 3.00, 3.02, 29.0))]
    assert held == [True, True, True]
    held = [v["held"] for v in bench.targets_verdicts(_targets_result(61.0, 3.00, 3.10, 31.0))]
    assert held == [False, False, False]                      # 3.10 vs 3.00 is 3.2% apart


def test_targets_timings_are_not_judged_under_load():
    held = [v["held"] for v in bench.targets_verdicts(_targets_result(500.0, 3.0, 3.0, 500.0, load_ok=False))]
    assert held == [None, True, None]


def test_full_estimate_reports_stage_timings():
    inp = bench.alg1_inputs(batch=60, d=8, k=3)
    out = bench.full_estimate(inp["zr"], inp["yr"], inp["zt"], inp["yt"], epochs=2, batch_size=60)
    assert set(out["timings"]) == {"probes", "alg1", "evaluation"} and out["seconds"] > 0
    assert out["seconds"] >= 0.99 * sum(out["timings"].values())


def _gpu_result(device, alg1_s, dev_bound, cpu_bound):
    "A bench_gpu result as the verdicts read it."
    return {"config": {"pets": {"pets": {}}},
            "records": [{"run": "timed", "device": device, "epochs": 2000, "timings": {"alg1": alg1_s}, "bound": dev_bound},
                        {"run": "dense", "device": "cpu", "epochs": 2000, "timings": {"alg1": 300.0}, "bound": cpu_bound}]}


@pytest.mark.parametrize("device,alg1_s,dev_bound,expected", [
    ("cuda", 4.0, 5.05, [True, True]),     # 1% apart, under 4.4 s
    ("cuda", 4.5, 5.20, [False, False]),   # 4% apart, over 4.4 s
    ("cpu", 1.0, 5.00, [None, True]),      # a CPU dry run never meets the GPU's time target
])
def test_gpu_verdicts_judge_time_only_on_a_gpu(device, alg1_s, dev_bound, expected):
    assert [v["held"] for v in bench.gpu_verdicts(_gpu_result(device, alg1_s, dev_bound, 5.0))] == expected


def test_gpu_command_refuses_without_a_cuda_device(tmp_path, capsys):
    import torch
    if torch.cuda.is_available(): pytest.skip("a CUDA device is present")
    assert bench.main(["gpu", "--out", str(tmp_path / "g.json"), "--allow-dirty"]) == 2
    assert "no CUDA device" in capsys.readouterr().err and not (tmp_path / "g.json").exists()
