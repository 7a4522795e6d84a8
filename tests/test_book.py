import json
import subprocess
import sys

import nbformat
import pytest

from lsgan_lib.book import build, overview, parameters as profile_params, provenance, runner
from lsgan_lib.book.parameters import ParameterError

from .conftest import ROOT


def write_notebook(path, parameters_source, body="x = 1"):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(parameters_source, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(body),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, path)
    return path


def test_parameters_cell_grammar(tmp_path):
    path = write_notebook(tmp_path / "c.ipynb", (
        'n_iter: int = 10  # [1, 100] iterations\n'
        'rate: float = 0.5  # [0.0, None]\n'
        'mode: str = "a"  # {"a", "b"} the mode\n'
        'seeds: list[int] = [0, 1]  # [0, 9] seeds\n'
        'flag: bool = True\n'))
    params = profile_params.notebook_parameters(path)
    assert list(params) == ["n_iter", "rate", "mode", "seeds", "flag"]
    assert params["n_iter"].low == 1 and params["n_iter"].high == 100 and params["n_iter"].help == "iterations"
    assert params["rate"].high is None and params["mode"].choices == ("a", "b")
    assert params["seeds"].type == "list[int]" and params["flag"].default is True
    assert profile_params.validate(params["rate"], 2, "-p") == 2.0 and isinstance(
        profile_params.validate(params["rate"], 2, "-p"), float)
    assert profile_params.validate(params["seeds"], [3, 4], "-p") == [3, 4]
    for name, value, match in [("n_iter", -5, "out of range"), ("n_iter", 1.5, "is not a int"),
                               ("n_iter", True, "is not a int"), ("mode", "c", "not allowed"),
                               ("seeds", [1, 10], "out of range"), ("seeds", 3, "list of int"),
                               ("rate", "x", "float")]:
        with pytest.raises(ParameterError, match=match):
            profile_params.validate(params[name], value, "-p")


def test_a_parameters_cell_must_use_annotated_literals(tmp_path):
    with pytest.raises(ParameterError, match="name: type = value"):
        profile_params.notebook_parameters(write_notebook(tmp_path / "c.ipynb", "n = 3\n"))
    with pytest.raises(ParameterError, match="unsupported type"):
        profile_params.notebook_parameters(write_notebook(tmp_path / "d.ipynb", "n: dict = {}\n"))
    with pytest.raises(ParameterError, match="out of range"):
        profile_params.notebook_parameters(write_notebook(tmp_path / "e.ipynb", "n: int = 0  # [1, 5]\n"))


def test_parse_overrides_reads_yaml_values():
    assert profile_params.parse_overrides(
        ["n_iter=5", "geometric_view.seeds=[0, 1]", "eps=0.5", "flag=true", "s=abc"]) == [
        (None, "n_iter", 5), ("geometric_view", "seeds", [0, 1]), (None, "eps", 0.5), (None, "flag", True),
        (None, "s", "abc")]
    with pytest.raises(ParameterError, match="name=value"):
        profile_params.parse_overrides(["n_iter"])


@pytest.mark.parametrize("profile", ["smoke", "cpu", "gpu", "paper"])
def test_every_profile_is_valid_for_every_chapter(profile):
    for chapter in profile_params.chapters(ROOT):
        values = profile_params.resolve_parameters(ROOT, chapter, profile, [])
        assert values["profile"] == profile


def test_resolution_order_is_default_then_profile_then_override():
    values = profile_params.resolve_parameters(ROOT, "geometric_view", "smoke", [(None, "eps", 0.2)])
    defaults = profile_params.notebook_parameters(ROOT / "notebooks" / "geometric_view.ipynb")
    smoke = profile_params.load_profile(ROOT, "smoke")["geometric_view"]
    assert values["n_iter"] == smoke["n_iter"] != defaults["n_iter"].default
    assert values["eps"] == 0.2 and values["drift_delta"] == defaults["drift_delta"].default


def test_unknown_profile_and_unknown_parameter():
    with pytest.raises(ParameterError, match="unknown profile 'fast'.*smoke"):
        profile_params.resolve_parameters(ROOT, "geometric_view", "fast", [])
    with pytest.raises(ParameterError, match="unknown parameter 'bogus'"):
        profile_params.resolve_parameters(ROOT, "geometric_view", "smoke", [(None, "bogus", 1)])


def cli(*args):
    return subprocess.run([sys.executable, "-m", "lsgan_lib", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("override, name", [("bogus=1", "bogus"), ("n_iter=-5", "n_iter"),
                                            ("n_iter=abc", "n_iter"), ("setting=wgan", "setting")])
def test_cli_refuses_bad_parameters_with_exit_2_naming_them(override, name, tmp_path):
    result = cli("run", "geometric_view", "--profile", "smoke", "-p", override, "--output-dir", str(tmp_path))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"'{name}'" in lines[0]
    assert not list(tmp_path.iterdir())  # no kernel ran, nothing was written


def test_cli_refuses_unknown_chapters_and_profiles(tmp_path):
    assert cli("run", "nonexistent", "--profile", "smoke").returncode == 2
    result = cli("run", "geometric_view", "--profile", "huge")
    assert result.returncode == 2 and "unknown profile" in result.stderr


def test_cli_list_shows_chapters_parameters_and_profiles():
    result = cli("list")
    assert result.returncode == 0
    assert "geometric_view" in result.stdout and "n_iter = " in result.stdout and "smoke" in result.stdout


def test_provenance_markdown_lists_everything():
    text = provenance.provenance_markdown({"chapter": "c", "profile": "cpu", "commit": "abc", "parameters": {"n": 1}})
    assert "| profile | cpu |" in text and "`n=1`" in text


def test_the_provenance_device_counts_the_chapters_own_threads(monkeypatch):
    import IPython.display
    import torch

    if torch.cuda.is_available():
        pytest.skip("the device line names the GPU")
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, metadata=None: shown.append(metadata))
    before = torch.get_num_threads()
    provenance.show_provenance(chapter="c", parameters={"cpu_threads": before + 2})
    assert shown[0]["lsgan_provenance"]["device"] == f"cpu ({before + 2} threads)"
    assert torch.get_num_threads() == before  # read, not applied: the chapter's setup cell applies it


def test_notebook_sources_are_stripped_and_parameterised():
    for path in (ROOT / "notebooks").glob("*.ipynb"):
        nb = json.loads(path.read_text())
        assert not any(c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code"), path
        assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb["cells"]), path


def test_the_committed_claims_overview_is_up_to_date():
    expected = overview.claims_overview(ROOT, ROOT / "book")
    assert (ROOT / "book" / "claims.md").read_text() == expected, "run `lsgan-book build` and commit book/claims.md"
    intro = (ROOT / "book" / "intro.md").read_text()
    assert overview.with_totals(intro, overview.claims_totals(ROOT, ROOT / "book")) == intro, \
        "run `lsgan-book build` and commit book/intro.md (its claims totals are stale)"


def test_the_intro_totals_go_between_the_markers_and_need_both():
    intro = f"a\n{overview.TOTALS_START}\nold\n{overview.TOTALS_END}\nb\n"
    assert overview.with_totals(intro, "new") == f"a\n{overview.TOTALS_START}\nnew\n{overview.TOTALS_END}\nb\n"
    with pytest.raises(ValueError, match="markers"):
        overview.with_totals("a\nb\n", "new")


def _executed_chapter(root, records, name="ch"):
    (root / "notebooks").mkdir(exist_ok=True)
    (root / "notebooks" / f"{name}.ipynb").write_text("{}")
    (root / "book").mkdir(exist_ok=True)
    output = {"output_type": "display_data", "data": {"text/markdown": "t"}, "metadata": {
        "lsgan_claims": records, "lsgan_profile": "cpu", "lsgan_device": "cpu (2 threads)"}}
    nb = {"cells": [{"cell_type": "code", "source": "", "metadata": {}, "outputs": [output]}], "metadata": {}}
    (root / "book" / f"{name}.ipynb").write_text(json.dumps(nb))


def test_claims_overview_counts_paper_claims_apart_from_extensions_and_lists_each_failed_gate_once(tmp_path):
    from lsgan_lib.measure.claims import Claim, gate

    ok = gate("mode gate", "modes", [8, 7, 8, 8, 3], 7, independence="it trained")
    bad = gate("image gate", "FD ratio", [0.9, 0.4, 0.8], 0.5, "<=", independence="the generator moved")
    q = "“s” (Sec. 1)"
    claims = [Claim("002", "a | b", "m", "0.5", "c", True, kind="empirical", gates=(ok,), quote=q),
              Claim("002", "x", "m", "0.5", "c", False, kind="empirical", gates=(ok,), quote=q),
              Claim("002", "y", "m", "0.5", "c", False, kind="empirical", gates=(bad,), quote=q),
              Claim("002", "y2", "m", "0.5", "c", True, kind="empirical", gates=(bad,), quote=q),
              Claim("002", "z", "m", "0.5", "c", None, kind="by construction"),
              Claim("002", "w", "m", "0.5", "c", False, kind="extension", gates=(ok,), quote=q)]
    _executed_chapter(tmp_path, [c.record() for c in claims])
    text = overview.claims_overview(tmp_path, tmp_path / "book")
    assert ("**5 claims about the papers**: 1 reproduced, 1 not reproduced, 1 inconclusive, 2 not tested. 1 "
            "extensions, counted apart: 0 reproduced, 1 not reproduced, 0 inconclusive, 0 not tested.") in text
    assert "| empirical | 1 | 1 | 0 | 2 |" in text and "| by construction | 0 | 0 | 1 | 0 |" in text
    assert "| extension (not counted) | 0 | 1 | 0 | 0 |" in text
    failed = text.split("## Gates that failed")[1].split("## ch")[0]
    # once per chapter, with every seed's value; the long description in a footnote
    assert failed.count("| G1 | ch | image gate[^gate-1] | 0.9, 0.4, 0.8 | ≤ 0.5 | 1 of 3 (quorum 3) |") == 1
    assert "[^gate-1]: FD ratio. Certifies: the generator moved" in failed and "mode gate" not in failed
    assert "(4 of 5 seeds)" in text and "`not tested` gate G1 failed" in text and "Executed before" not in text
    assert "a \\| b" in text and "`cpu` profile on cpu (2 threads)" in text
    totals = overview.claims_totals(tmp_path, tmp_path / "book")
    assert "test 5 claims of the papers" in totals and "1 extensions" in totals


def test_claims_overview_reads_chapters_executed_before_the_quorum_rules_and_says_so(tmp_path):
    old_gate = {"name": "g", "measurement": "m", "value": 3.0, "threshold": 7.0, "direction": ">=", "passed": False,
                "text": "g: 3 (needs ≥ 7) — failed"}
    record = {"paper": "002", "claim": "c", "measurement": "m", "value": "v", "criterion": "k", "outcome": None,
              "kind": "empirical", "gates": [old_gate], "control": "", "not_tested": "", "verdict": "not tested",
              "reason": "gate failed — g: 3 (needs ≥ 7) — failed"}
    _executed_chapter(tmp_path, [record])
    text = overview.claims_overview(tmp_path, tmp_path / "book")
    assert ("Executed before the quorum rules: ch." in text
            and "| G1 | ch | g[^gate-1] | worst seed 3 | ≥ 7 | — |" in text)


def test_stage_widget_assets_copies_the_javascript_and_fonts(tmp_path):
    target = build.stage_widget_assets(tmp_path)
    names = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
    assert {"require.js", "embed-amd.js", "widgets-config.js"} <= names
    assert any(n.startswith("widget-fonts/") and n.endswith(".woff2") for n in names)
    # MathJax and what it loads at run time: its fonts and the TeX extensions it autoloads
    assert "mathjax/tex-mml-chtml.js" in names
    assert any(n.startswith("mathjax/output/chtml/fonts/woff-v2/") for n in names)
    assert "mathjax/input/tex/extensions/color.js" in names


def test_sphinx_fix_drops_exact_duplicate_scripts_only():
    from sphinx.builders.html._assets import _JavaScript

    from lsgan_lib.book.sphinx_fixes import drop_duplicate_scripts

    scripts = [_JavaScript("a.js"), _JavaScript(None, body="const X = 1"), _JavaScript("", body="const X = 1"),
               _JavaScript("", body="const Y = 2"), _JavaScript("a.js")]
    context = {"script_files": scripts}
    drop_duplicate_scripts(None, "page", "page.html", context, None)
    assert [(s.filename, s.attributes.get("body")) for s in context["script_files"]] == [
        ("a.js", None), (None, "const X = 1"), ("", "const Y = 2")]


def test_build_without_the_widget_javascript_names_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="npm ci"):
        build.stage_widget_assets(tmp_path, search=[tmp_path / "node_modules"])


def test_an_executed_chapter_from_before_the_verdicts_is_refused_with_the_fix(tmp_path):
    old = {"output_type": "display_data", "data": {"text/markdown": "t"}, "metadata": {
        "lsgan_claims": [{"paper": "002", "claim": "a", "measurement": "m", "value": "0.5", "criterion": "c",
                          "verdict": True, "verdict_text": "reproduced"}]}}
    path = tmp_path / "ch.ipynb"
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "source": "", "metadata": {}, "outputs": [old]}]}))
    with pytest.raises(overview.OutdatedClaims, match="lsgan-book run ch"):
        overview.chapter_claims(path)


def test_the_provenance_names_no_results_folder_of_the_machine(tmp_path, monkeypatch):
    root = tmp_path / "project"
    root.mkdir()
    assert runner._portable(root / "results" / "fresh" / "t", root) == "results/fresh/t"
    monkeypatch.setenv("LSGAN_RESULTS", str(tmp_path / "elsewhere"))
    assert runner._portable(tmp_path / "elsewhere", root) == "$LSGAN_RESULTS"
    assert runner._portable(tmp_path / "other", root) == "a folder outside the project"
