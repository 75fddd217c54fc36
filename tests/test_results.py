"""taskrel.results: provenance of every committed results file (the recorded commit must hold the recorded module code),
strict JSON round trips, and the refusals (dirty tree, malformed files)."""
import json, math, subprocess
from pathlib import Path
import numpy as np
import pytest
from taskrel.results import (OldSchemaError, check, from_jsonable, git, header, load, repo_root, require_clean, save,
                             source_mismatches, to_jsonable, RESULTS_DIR)

ROOT = repo_root()
COMMITTED = [p for p in (git("ls-files", RESULTS_DIR.as_posix()) or "").splitlines() if p.endswith(".json")]


def _raw(p): return json.loads((ROOT / p).read_text())


@pytest.mark.parametrize("path", COMMITTED or ["(none)"])
def test_committed_results_trace_to_their_commit(path):
    "For a file with the current header: `git show COMMIT:path` of every module it names hashes to the recorded sha256."
    if path == "(none)": pytest.skip("no committed results files")
    raw = _raw(path)
    if "schema" not in raw.get("header", {}):
        print(f"OLD SCHEMA (regenerate through taskrel.results): {path}")
        pytest.skip(f"{path}: old results schema; regenerate it through taskrel.results")
    res = load(ROOT / path)
    assert res["header"]["git_commit"], f"{path}: no git_commit recorded"
    assert git("cat-file", "-e", res["header"]["git_commit"] + "^{commit}") is not None, f"{path}: commit {res['header']['git_commit']} not in this repository"
    assert source_mismatches(res) == [], f"{path}: {source_mismatches(res)}"


def test_round_trip_with_nonfinite_and_numpy(tmp_path):
    recs = [dict(a=np.float32(0.5), b=np.nan, c=-np.inf, d=np.arange(3), e=(np.int8(1), np.bool_(False)), f={1: np.inf})]
    p = save(tmp_path / "r.json", recs, figure="t", command="pytest", seeds=[0], modules=["taskrel.results"], allow_dirty=True)
    json.loads(p.read_text(), parse_constant=lambda c: pytest.fail(f"bare {c} in the JSON"))
    r = load(p)["records"][0]
    assert r["a"] == 0.5 and math.isnan(r["b"]) and r["c"] == -math.inf and r["d"] == [0, 1, 2]
    assert r["e"] == [1, False] and r["f"] == {"1": math.inf}
    assert from_jsonable(to_jsonable([np.nan]))[0] != 0   # NaN survives (NaN != 0)


def _repo(tmp_path):
    run = lambda *a: subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *a], cwd=tmp_path, capture_output=True, check=True)
    run("init", "-q"); (tmp_path / "m.py").write_text("x = 1\n"); run("add", "m.py"); run("commit", "-qm", "m")
    return tmp_path


def test_dirty_tree_is_refused_naming_allow_dirty(tmp_path):
    root = _repo(tmp_path)
    assert require_clean(root=root)["dirty"] is False
    (root / "m.py").write_text("x = 2\n")
    with pytest.raises(RuntimeError, match=r"uncommitted changes \(m\.py\).*--allow-dirty"):
        require_clean(root=root)
    h = header("t", "pytest", modules=["taskrel.results"], allow_dirty=True, root=root)
    assert h["git_dirty"] and h["allow_dirty"] and h["dirty_paths"] == ["m.py"]


@pytest.mark.parametrize("mutate,match", [
    (lambda o: o.pop("records"), r"'records' list"),
    (lambda o: o["header"].pop("schema"), r"old results layout"),
    (lambda o: o["header"].update(schema="taskrel.results/0"), r"header.schema='taskrel.results/0'"),
    (lambda o: o["header"].pop("source_sha256"), r"header lacks \['source_sha256'\]"),
    (lambda o: o["header"].update(source_sha256={"taskrel/x.py": "abc"}), r"64-hex sha256"),
    (lambda o: o["header"].update(git_dirty=True, allow_dirty=False), r"git_dirty but not allow_dirty"),
    (lambda o: o.update(figures=[]), r"unknown top-level keys \['figures'\]"),
    (lambda o: o.update(verdicts="yes"), r"'verdicts' must be a list"),
])
def test_check_rejects_malformed(mutate, match):
    o = {"header": header("t", "pytest", modules=["taskrel.results"], allow_dirty=True), "records": []}
    mutate(o)
    with pytest.raises(ValueError, match=match):
        check(o)


def test_old_schema_is_named(tmp_path):
    p = tmp_path / "old.json"
    p.write_text(json.dumps({"header": {"command": "python -m x", "git_commit": "abc"}, "records": []}))
    with pytest.raises(OldSchemaError, match=r"old results layout.*python -m x"):
        load(p)


def test_forged_hash_is_caught():
    h = header("t", "pytest", modules=["taskrel.results"], allow_dirty=True)
    if h["git_commit"] is None: pytest.skip("not a git checkout")
    o = {"header": h | {"source_sha256": {"taskrel/results.py": "0" * 64}}, "records": []}
    assert len(source_mismatches(o)) == 1
