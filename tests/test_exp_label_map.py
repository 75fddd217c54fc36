"""taskrel.exp.label_map: the implied assignment against brute force, the fixed point of a random start and the two remedies on
synthetic tasks whose true class map is known, bad settings, and the committed results file when it exists."""
import itertools
import numpy as np
import pytest
import torch
from taskrel import results
from taskrel.bound import task_relatedness
from taskrel.exp.label_map import implied_assignment, scale_config, variant_overrides, label_map_verdicts, results_file, main, VARIANTS

torch.set_num_threads(1)


@pytest.mark.parametrize("seed", range(20))
def test_implied_assignment_is_the_cheapest_matching(seed):
    r = np.random.default_rng(seed)
    K = int(r.integers(2, 6))
    B = r.dirichlet(np.ones(K), K).T                                      # columns are distributions
    cost = lambda s: sum(np.linalg.norm(B[:, j] - np.eye(K)[s[j]]) for j in range(K))
    best = min(cost(s) for s in itertools.permutations(range(K)))
    got = implied_assignment(B)
    assert sorted(got) == list(range(K)) and cost(got) == pytest.approx(best, abs=1e-12)


@pytest.mark.parametrize("seed", range(10))
def test_implied_assignment_with_more_reference_classes_is_the_cheapest_balanced_map(seed):
    r = np.random.default_rng(seed)
    K_T, m = int(r.integers(2, 4)), 2
    B = r.dirichlet(np.ones(K_T), K_T * m).T                              # (K_T, m K_T)
    cost = lambda s: sum(np.linalg.norm(B[:, j] - np.eye(K_T)[s[j]]) for j in range(K_T * m))
    balanced = [s for s in itertools.product(range(K_T), repeat=K_T * m) if np.bincount(s, minlength=K_T).tolist() == [m] * K_T]
    got = implied_assignment(B)
    assert np.bincount(got, minlength=K_T).tolist() == [m] * K_T and cost(got) == pytest.approx(min(map(cost, balanced)), abs=1e-12)


def synthetic(seed=0, K=5, d=8, n=80):
    "Reference and target: class j of the target looks like class j of the reference (the true map is the identity)."
    r = np.random.default_rng(seed)
    centres = r.normal(0, 3, (K, d))
    y = np.repeat(np.arange(K), n)
    draw = lambda: centres[y] + r.normal(size=(len(y), d))
    return draw(), y, draw() + 0.5, y


def learned(variant, seed, epochs=150):
    zr, yr, zt, yt = synthetic(seed)
    cfg = dict(epochs=epochs, anneal_fraction=0.5, nu_start=1.0)
    r = task_relatedness(zr, yr, zt, yt, setting="LearnedAll", tau=0.2, epochs=epochs, batch_size=200, probe=dict(epochs=60),
                         seed=seed, progress=False, **variant_overrides(variant, cfg))
    return np.asarray(r.details["B_initial"]), r.B


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_random_start_ends_at_the_map_its_initial_B_implies(seed):
    B0, B = learned("random start", seed)
    assert (B.argmax(0) == implied_assignment(B0)).all()


@pytest.mark.parametrize("variant", ["matched start", "annealed nu"])
def test_the_remedies_recover_the_true_map(variant):
    for seed in (0, 1):
        _, B = learned(variant, seed)
        assert (B.argmax(0) == np.arange(5)).all(), (variant, seed, B.argmax(0))


@pytest.mark.parametrize("kw,match", [(dict(variants=["warm"]), r"variants=\['warm'\]"), (dict(anneal_fraction=1.5), "anneal_fraction=1.5"),
                                      (dict(batch_size=8), "batch_size=8 <= pca_dim=32"), (dict(depth=2), r"\['depth'\] are not settings")])
def test_bad_settings_are_refused(kw, match):
    with pytest.raises(ValueError, match=match): scale_config("cpu", **kw)


def test_command_line_refuses_an_unknown_variant(capsys):
    with pytest.raises(SystemExit) as e: main(["--variants", "warm"])
    assert e.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_committed_results_follow_the_schema_and_their_verdicts():
    if not results_file().exists(): pytest.skip("no committed results file yet")
    res = results.load(results_file())
    assert {r["variant"] for r in res["records"]} <= set(VARIANTS)
    assert [v["holds"] for v in res["verdicts"]] == [v["holds"] for v in label_map_verdicts(res)]
    for r in res["records"]:   # the digit columns are the ones with a counterpart; D's mass on them is D's, summed
        assert r["n_classes"] == 10 and sum(t >= 0 for t in r["true_map"]) == 10
        assert r["D_matched_mass"] == pytest.approx(sum(d for d, t in zip(r["D"], r["true_map"]) if t >= 0), abs=2e-4)   # D rounded to 5 digits, 20 entries
