import json
import math

import matplotlib
import numpy as np
import pytest
import torch

from lsgan_lib.data import distributions
from lsgan_lib.measure import metrics
from lsgan_lib import plots
from lsgan_lib.measure.claims import (Claim, Gate, bootstrap_interval, claims_markdown, gate, meets,
                                     over_passing_seeds, passing_seeds)

matplotlib.use("Agg")


def test_nearest_distance_by_hand():
    points = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    reference = torch.tensor([[0.0, 1.0], [3.0, 0.0]])
    assert torch.allclose(metrics.nearest_distance(points, reference, chunk=1), torch.tensor([1.0, 4.0]))
    with pytest.raises(ValueError, match="mismatch"):
        metrics.nearest_distance(points, torch.zeros(2, 3))


def test_coverage_counts_data_points_with_a_sample_nearby():
    data = torch.tensor([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0], [9.0, 9.0]])
    generated = torch.tensor([[0.0, 0.05], [5.0, 5.2]])
    assert metrics.coverage(data, generated, eps=0.1) == 0.25 + 0.0  # only (0, 0)
    assert metrics.coverage(data, generated, eps=0.3) == 0.5
    assert metrics.coverage(data, data, eps=1e-6) == 1.0


def test_precision_uses_the_true_support():
    lattice = distributions.data_manifold("lattice_3x3")
    generated = torch.tensor([[0.0, 0.0], [0.02, 1.0], [0.5, 0.5], [1.0, -1.0]])
    assert metrics.precision(generated, lattice.distance_to_support, eps=0.05) == 0.75


def test_chamfer_distance_by_hand():
    a = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    b = torch.tensor([[0.0, 1.0]])
    # a -> b: 1 and sqrt(2); b -> a: 1
    assert metrics.chamfer_distance(a, b) == pytest.approx(((1 + math.sqrt(2)) / 2 + 1) / 2)
    assert metrics.chamfer_distance(a, a) == 0.0


def test_mode_statistics_count_modes_and_high_quality_samples():
    centres = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    on_first = torch.zeros(30, 2) + 0.01
    on_second = torch.tensor([[1.0, 0.0]]).repeat(19, 1)  # one short of min_per_mode
    far = torch.tensor([[0.5, 0.5]]).repeat(51, 1)
    stats = metrics.mode_statistics(torch.cat([on_first, on_second, far]), centres, std=0.01)
    assert stats["per_mode"] == [30, 19, 0]
    assert stats["modes_covered"] == 1
    assert stats["high_quality"] == pytest.approx(49 / 100)
    assert metrics.mode_statistics(on_second, centres, std=0.01, min_per_mode=19)["modes_covered"] == 1
    with pytest.raises(ValueError, match="std > 0"):
        metrics.mode_statistics(on_first, centres, std=0.0)


def test_data_from_a_mixture_covers_every_mode(generator):
    from lsgan_lib.data.distributions import data_manifold

    manifold = data_manifold("twenty_five_gaussians")
    stats = metrics.mode_statistics(manifold.sample(2500, generator), torch.tensor(manifold.centres), manifold.std)
    assert stats["modes_covered"] == 25 and stats["high_quality"] > 0.97


def test_line_coverage_matches_monte_carlo(generator):
    x = torch.randn(200_000, 2, generator=generator)
    empirical = (x[:, 1].abs() <= 0.1).float().mean().item()  # the line y = 0
    assert metrics.line_coverage_gaussian(0.1) == pytest.approx(empirical, abs=0.003)
    assert metrics.line_coverage_gaussian(0.1) == pytest.approx(math.erf(0.1 / math.sqrt(2)))


def test_panel_figure_and_png(generator):
    manifold = distributions.data_manifold("spiral")
    panel = dict(manifold=manifold, data=manifold.sample(100, generator), generated=torch.randn(50, 2),
                 grid_image=torch.randn(9, 2), latent_dim=2, title="t")
    fig = plots.panel_figure([panel, panel | {"grid_image": torch.randn(20, 2), "latent_dim": 1}], ncols=3,
                             title="Fig")
    assert len(fig.axes) == 3 and not fig.axes[2].axison
    assert fig.axes[0].get_xlim() == (manifold.bounds[0], manifold.bounds[1])
    assert plots.figure_png(fig).startswith(b"\x89PNG")


def test_snapshot_slider_links_slider_and_frames_in_the_browser(monkeypatch):
    import ipywidgets as widgets

    links = []
    real_jslink = widgets.jslink
    monkeypatch.setattr(widgets, "jslink", lambda a, b: links.append((a, b)) or real_jslink(a, b))
    box = plots.snapshot_slider([b"a", b"b", b"c"], [0, 10, 20])
    slider, stack = box.children
    assert slider.options == ("0", "10", "20") and slider.value == "20"
    assert stack.selected_index == 2 and [im.value for im in stack.children] == [b"a", b"b", b"c"]
    assert links == [((slider, "index"), (stack, "selected_index"))]  # a browser-side link: works without a kernel
    with pytest.raises(ValueError, match="one frame per iteration"):
        plots.snapshot_slider([b"a"], [0, 1])


def test_metric_bars_draw_mean_and_every_seed():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    plots.metric_bars(ax, ["a", "b"], torch.tensor([[0.2, 0.4], [0.6, 0.8]]), reference=[1.0, 0.9])
    heights = [patch.get_height() for patch in ax.patches]
    assert heights == pytest.approx([0.3, 0.7])
    plt.close(fig)


def _gate(passed: bool) -> Gate:
    return gate("reference covers the modes", "modes covered", [8, 7, 8] if passed else [8, 3, 8], 7,
                independence="the reference trained: it covers modes, which the claim does not compare")


QUOTE = "“a sentence” (Sec. 1)"


def test_claims_table_states_verdicts_kinds_gates_profile_and_device():
    claims = [Claim("002", "a | b", "m", "0.5", "≥ 0.4", True, kind="empirical", gates=(_gate(True),), quote=QUOTE),
              Claim("002", "c", "m", "0.1", "≥ 0.4", False, kind="empirical", gates=(_gate(True),), quote=QUOTE),
              Claim("002", "d", "m", "0.1", "≥ 0.4", None, kind="numerical check"),
              Claim("002", "e", "m", "0.1", "≥ 0.4", False, kind="empirical", gates=(_gate(False),), quote=QUOTE),
              Claim("002", "f", "m", "0.1", "≥ 0.4", False, kind="extension", gates=(_gate(True),), quote=QUOTE)]
    text = claims_markdown(claims, "cpu", "cpu (2 threads)")
    for verdict in ("reproduced", "not reproduced", "inconclusive", "not tested"):
        assert f"`{verdict}`" in text
    assert ("a \\| b" in text and "`cpu` profile on cpu (2 threads)" in text
            and "the paper: “a sentence” (Sec. 1)" in text)
    assert "*(numerical check)*" in text and ("4 claims about the paper: 1 reproduced, 1 not reproduced, 1 "
                                              "inconclusive, 1 not tested. 1 extension (our readings, not counted): "
                                              "1 not reproduced.") in text
    # the reason names the gate, how many seeds passed and each seed's value; the row says "n of N seeds"
    assert "reference covers the modes: 2 of 3 seeds pass (each needs ≥ 7, quorum 3; per seed 8, 3, 8) — failed" in text
    assert "(3 of 3 seeds)" in text
    # the gates table shows each gate's independence sentence and every seed's value
    assert "| reference covers the modes | the reference trained: it covers modes" in text and "| 8, 7, 8 |" in text


def test_a_table_refuses_a_gate_without_independence_and_an_empirical_claim_without_a_quote():
    silent = gate("g", "m", [1.0], 0.5)
    with pytest.raises(ValueError, match="states no independence"):
        claims_markdown([Claim("p", "c", "m", "v", "k", True, kind="empirical", gates=(silent,), quote=QUOTE)],
                        "cpu", "x")
    for kind in ("empirical", "extension"):
        with pytest.raises(ValueError, match="quotes no sentence of the paper"):
            claims_markdown([Claim("p", "c", "m", "v", "k", True, kind=kind, gates=(_gate(True),))], "cpu", "x")
    assert "1 claims about the paper" in claims_markdown([Claim("p", "c", "m", "v", "k", True, kind="by construction")],
                                                          "cpu", "x")


def test_a_quorum_gate_passes_with_4_of_5_seeds_and_fails_with_3():
    four = gate("g", "m", [8, 8, 3, 8, 8], 7, independence="i")
    three = gate("g", "m", [8, 3, 3, 8, 8], 7, independence="i")
    assert four.passed and (four.n_passed, four.needed) == (4, 4) and not three.passed
    assert not gate("g", "m", [8, 8, float("nan"), 8, 3], 7).passed  # a NaN seed fails its seed
    assert gate("g", "m", [8, 8, float("nan"), 8, 8], 7).passed
    assert gate("g", "m", [8, 3], 7, quorum=0.5).passed and not gate("g", "m", [8, 3], 7).passed
    # the claim is measured over the seeds that pass, and says so
    assert over_passing_seeds([0.1, 0.2, 0.3, 0.4, 0.5], [four]).tolist() == [0.1, 0.2, 0.4, 0.5]
    claim = Claim("p", "c", "m", "v", "k", True, kind="empirical", gates=(four,), quote=QUOTE)
    assert claim.verdict == "reproduced" and claim.seeds_text == "4 of 5 seeds"
    assert "(4 of 5 seeds)" in claims_markdown([claim], "cpu", "x") and claim.record()["seeds"] == "4 of 5 seeds"
    with pytest.raises(ValueError, match="one value per seed"):
        four.kept([1.0, 2.0])


def test_gates_that_pass_on_different_seeds_must_still_share_a_quorum_of_seeds():
    a = gate("a", "m", [8, 8, 3, 8, 8], 7, independence="i")
    b = gate("b", "m", [8, 8, 8, 3, 8], 7, independence="i")
    assert a.passed and b.passed and passing_seeds([a, b]).tolist() == [True, True, False, False, True]
    claim = Claim("p", "c", "m", "v", "k", True, kind="empirical", gates=(a, b))
    assert claim.verdict == "not tested" and "only 3 of 5 seeds" in claim.reason
    with pytest.raises(ValueError, match="same seeds"):
        passing_seeds([a, gate("c", "m", [1.0], 0.5)])


def test_lloyds_quantiser_reaches_maxs_levels_and_beats_the_product_quantiser_in_two_dimensions():
    points, mse = metrics.gaussian_quantiser(3, 1, n=100_000)
    assert sorted(points.ravel().tolist()) == pytest.approx([-1.224, 0.0, 1.224], abs=1e-3)  # Max (1960)
    assert mse == pytest.approx(0.1902, abs=2e-4)
    nine, mse9 = metrics.gaussian_quantiser(9, 2, n=50_000)
    assert nine.shape == (9, 2) and mse9 < 2 * 0.1902  # better than the 3 × 3 product of Max's quantiser
    sample = torch.tensor([[0.0], [0.0], [10.0], [10.0]])
    assert metrics.lloyd_quantiser(sample, 2)[1] == pytest.approx(0.0)
    with pytest.raises(ValueError):
        metrics.lloyd_quantiser(sample, 5)


def test_a_failed_gate_gives_not_tested_whatever_the_measurement():
    for outcome in (True, False, None):
        claim = Claim("p", "c", "m", "v", "k", outcome, kind="empirical", gates=(_gate(True), _gate(False)))
        assert claim.verdict == "not tested" and "failed" in claim.reason


def test_passed_gates_let_the_outcome_decide():
    verdicts = [Claim("p", "c", "m", "v", "k", o, kind="empirical", gates=(_gate(True),)).verdict
                for o in (True, False, None)]
    assert verdicts == ["reproduced", "not reproduced", "inconclusive"]


def test_a_dropped_part_reads_not_tested_with_its_reason():
    claim = Claim("p", "c", "m", "—", "k", None, kind="empirical", not_tested="needs the gpu profile")
    assert claim.verdict == "not tested" and claim.reason == "needs the gpu profile"


def test_an_empirical_claim_must_name_a_gate_and_a_kind_must_be_known():
    with pytest.raises(ValueError, match="names no training gate"):
        Claim("p", "c", "m", "v", "k", True, kind="empirical")
    computed = Claim("p", "c", "m", "v", "k", True, kind="extension", quote=QUOTE)  # a literal reading, no training
    assert computed.verdict == "reproduced"
    with pytest.raises(ValueError, match="kind must be one of"):
        Claim("p", "c", "m", "v", "k", True, kind="anecdote")
    with pytest.raises(TypeError):
        Claim("p", "c", "m", "v", "k", True)  # the kind has no default: every claim states it


def test_gates_report_the_worst_seed_and_fail_on_non_finite_values():
    assert gate("g", "m", [0.9, 0.4, 0.8], 0.5).value == 0.4
    assert not gate("g", "m", [0.9, 0.4, 0.8], 0.5).passed  # 2 of 3 seeds: below the quorum of 3
    assert gate("g", "m", [0.01, 0.03], 0.05, "<=").value == 0.03 and gate("g", "m", [0.01, 0.03], 0.05, "<=").passed
    assert not gate("g", "m", [1.0, float("nan")], 0.5).passed
    assert not gate("g", "m", [float("inf")], 0.5, "<=").passed
    assert "not computable" in gate("g", "m", [float("nan")], 0.5).describe()
    with pytest.raises(ValueError):
        gate("g", "m", [], 0.5)
    with pytest.raises(ValueError):
        gate("g", "m", [1.0], 0.5, "==")


def test_bootstrap_interval_covers_the_mean_and_is_reproducible():
    values = [0.60, 0.62, 0.58, 0.61, 0.59, 0.63, 0.57]
    first, again = bootstrap_interval(values), bootstrap_interval(values)
    assert first == again and first.bootstrap
    assert first.low < first.mean < first.high and 0.57 <= first.low and first.high <= 0.63
    assert first.mean == pytest.approx(0.6)
    few = bootstrap_interval([0.2, 0.9, 0.5])  # fewer than 5 seeds: the range, shown seed by seed
    assert not few.bootstrap and (few.low, few.high) == (0.2, 0.9) and "per seed 0.2, 0.9, 0.5" in str(few)
    assert "not computable" in str(bootstrap_interval([1.0, float("nan"), 2.0, 3.0, 4.0]))


def test_meets_uses_the_interval_not_the_mean():
    above = bootstrap_interval([0.80, 0.82, 0.79, 0.81, 0.83])
    below = bootstrap_interval([0.10, 0.12, 0.09, 0.11, 0.13])
    straddling = bootstrap_interval([0.1, 0.9, 0.2, 0.8, 0.5])
    assert meets(above, 0.5) is True and meets(below, 0.5) is False and meets(straddling, 0.5) is None
    assert meets(below, 0.5, "<=") is True
    assert meets(bootstrap_interval([1.0, float("nan"), 1.0, 1.0, 1.0]), 0.5) is None


def test_claim_records_carry_verdict_reason_and_gates_as_json():
    record = Claim("p", "c", "m", "v", "k", True, kind="empirical", gates=(_gate(False),), control="0.1").record()
    assert record["verdict"] == "not tested" and record["kind"] == "empirical" and record["control"] == "0.1"
    assert record["gates"][0]["passed"] is False and record["gates"][0]["value"] == 3.0
    assert record["gates"][0]["values"] == [8.0, 3.0, 8.0] and record["gates"][0]["n_passed"] == 2
    assert json.loads(json.dumps(record)) == record



def test_outcome_combiners_fail_on_any_failure_and_stay_undecided_on_any_undecided_part():
    from lsgan_lib.measure.claims import agree, all_hold, any_holds

    assert all_hold([True, True]) is True and all_hold([True, None]) is None and all_hold([None, False]) is False
    assert any_holds([False, True]) is True and any_holds([False, None]) is None and any_holds([False]) is False
    assert agree([True, True]) is True and agree([False, False]) is False and agree([True, False]) is None
    assert all_hold(iter([np.True_, np.True_])) is True  # numpy booleans, and generators
    for combine in (all_hold, any_holds, agree):
        with pytest.raises(ValueError, match="at least one outcome"):
            combine([])
        with pytest.raises(TypeError):
            combine([0.5])


def test_an_interval_over_passing_seeds_drops_the_failing_seeds_and_is_undecided_when_none_pass():
    from lsgan_lib.measure.claims import interval_over_passing_seeds
    g = gate("learned", "m", [1.0, 0.0, 1.0], 0.5)
    assert interval_over_passing_seeds([3.0, 100.0, 5.0], [g]).values == (3.0, 5.0)
    none = interval_over_passing_seeds([3.0, 100.0, 5.0], [gate("learned", "m", [0.0, 0.0, 0.0], 0.5)])
    assert none.values == () and meets(none, 0.0) is None and str(none) == "no seed passes the gates"
