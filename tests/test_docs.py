"""The book's scaffolding: nbdev configuration, one Quarto config, the sidebar, title cells, README, and the
docs pipeline up to the point where Quarto takes over (Quarto itself cannot be installed on the dev machines)."""
import configparser, json, re
from pathlib import Path
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / "nbs"
CHAPTERS = ["Theory", "Algorithm", "Baselines", "Experiments", "API"]
NOTEBOOKS = sorted(p for p in NBS.glob("*.ipynb") if not p.name.startswith("_"))


def cfg():
    c = configparser.ConfigParser(delimiters=["="]); c.read(ROOT / "settings.ini"); return c["DEFAULT"]


def cells(nb_path):
    return json.loads(nb_path.read_text())["cells"]


def src(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_nbdev_2_with_settings_ini_and_test_flags():
    import nbdev
    assert nbdev.__version__.startswith("2."), nbdev.__version__
    assert set(cfg()["tst_flags"].split()) == {"slow", "cuda"}
    reqs = cfg()["requirements"].split()
    assert any(r.startswith("torch==") for r in reqs) and any(r.startswith("torchvision==") for r in reqs)


def test_one_quarto_config_and_nbdev_renders_with_it():
    link = NBS / "_quarto.yml"
    assert link.is_symlink() and link.resolve() == (ROOT / "_quarto.yml").resolve()


def sidebar():
    return yaml.safe_load((ROOT / "_quarto.yml").read_text())["website"]["sidebar"]["contents"]


def test_sidebar_has_the_book_chapters_and_every_notebook_once():
    sb = sidebar()
    sections = [e for e in sb if isinstance(e, dict) and "section" in e]
    assert [s["section"] for s in sections] == CHAPTERS
    assert sb[0] == {"href": "index.ipynb", "text": "Home"}, "the first entry is the home page, labelled Home"
    listed = [e if isinstance(e, str) else e["href"] for e in sb if "section" not in e] + [f for s in sections for f in (s["contents"] or [])]
    assert len(listed) == len(set(listed)), "a notebook is listed twice"
    assert sorted(listed) == sorted(p.name for p in NOTEBOOKS), "sidebar and nbs/ differ"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_title_cell_holds_only_title_and_summary(nb):
    "nbdev turns the first markdown cell into front matter and drops the rest of it: prose there would vanish."
    first = next(c for c in cells(nb) if c["cell_type"] == "markdown")
    lines = [l for l in src(first).splitlines() if l.strip()]
    assert lines[0].startswith("# "), f"{nb.name}: first markdown cell must start with '# Title'"
    assert all(l.startswith(("# ", "> ", "- ")) for l in lines), f"{nb.name}: title cell has prose: {lines}"


@pytest.mark.parametrize("nb", [p for p in NOTEBOOKS if p.name != "index.ipynb"], ids=lambda p: p.name)
def test_each_notebook_is_one_module_and_exports_itself(nb):
    cs = cells(nb)
    assert re.match(r"#\| *default_exp \S+", src(cs[0])), f"{nb.name}: first cell must be '#| default_exp <module>'"
    assert "nbdev_export()" in src(cs[-1]), f"{nb.name}: last cell must call nbdev.nbdev_export()"


def test_readme_is_generated_from_index():
    "Every prose line of index.ipynb appears in README.md (regenerate with `make readme`)."
    readme = " ".join(( ROOT / "README.md").read_text().split())
    for c in cells(NBS / "index.ipynb"):
        if c["cell_type"] != "markdown": continue
        for line in src(c).splitlines():
            if line.strip() and not line.lstrip().startswith("|"):
                assert " ".join(line.split()) in readme, f"README.md is stale: missing {line!r}"


def test_docs_pipeline_up_to_quarto(tmp_path):
    "What nbdev_docs does before calling Quarto: nbdev.yml, the module index, and processed notebooks."
    from nbdev.quarto import refresh_quarto_yml
    from nbdev.doclinks import _build_modidx
    from nbdev.serve import proc_nbs
    refresh_quarto_yml(); _build_modidx()
    assert (NBS / "_quarto.yml").is_symlink(), "nbdev must keep our _quarto.yml"
    cache = proc_nbs(n_workers=2)
    for nb in NOTEBOOKS:
        fm = src(cells(cache / nb.name)[0])
        assert fm.startswith("---") and "title:" in fm, f"{nb.name}: no front matter after processing"
    assert yaml.safe_load((cache / "_quarto.yml").read_text()) == yaml.safe_load((ROOT / "_quarto.yml").read_text())



@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_cells_the_docs_build_runs_hold_only_imports(nb):
    """nbdev_docs executes every cell whose code contains an import anywhere (nbdev.processors._do_eval), besides the
    export cells. Such a cell must hold imports only, or the book build would run experiments, tests and file I/O."""
    import ast, warnings
    from nbdev.process import NBProcessor
    from nbdev.processors import _do_eval
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for c in NBProcessor(nb).nb.cells:
            if c.cell_type != "code" or c.directives_.keys() & {"export", "exports", "exporti", "exec_doc"}: continue
            if not _do_eval(c): continue
            stray = [type(t).__name__ for t in ast.parse(c.source).body if not isinstance(t, (ast.Import, ast.ImportFrom))]
            assert not stray, f"{nb.name} cell {c.idx_}: the docs build runs this cell, which holds {stray} besides imports"
