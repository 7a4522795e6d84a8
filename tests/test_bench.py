"""The benchmark scripts run (they time nothing here: a benchmark's numbers are read from its output, not asserted)."""

import importlib.util
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parent.parent / "bench"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_toy_training_benchmark_prints_its_table(capsys):
    load("toy_training").main(["--iters", "2", "--warmup", "1", "--repeats", "1", "--members", "1", "3",
                               "--device", "cpu", "--wgan-widths"])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "trainer |" not in line]
    assert [row.split(" | ")[1] for row in rows] == ["1", "1", "3"]
    assert "plain PyTorch loop" in rows[0] and "(train_gan)" in rows[1] and "_train_batched" in rows[2]
    assert "torch 2." in out and "device: cpu" in out and "WGAN (clipping)" not in out


def test_the_toy_training_benchmark_times_the_wgan_reference_in_both_precisions_beside_the_mm_rate(capsys):
    load("toy_training").main(["--iters", "1", "--warmup", "1", "--repeats", "1", "--members", "1", "--device", "cpu",
                               "--only-batched", "--wgan-widths", "16", "--wgan-iters", "1"])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "width 16" in line]
    assert [row.split(" | ")[0][2:].split(",")[0] for row in rows] == ["plain PyTorch loop", "library loop"] * 2
    assert [row.split(",")[-1].split(" | ")[0].strip() for row in rows] == ["fp32", "fp32", "bf16", "bf16"]
    assert all(row.rstrip(" |").endswith("%") for row in rows)  # the share of the mm rate


def test_the_latent_space_cost_count_prints_every_piece(capsys):
    load("latent_space_cost").main(["--profile", "smoke", "--measure-device", "cpu", "--mm-size", "64"])
    out = capsys.readouterr().out
    assert "Measured: torch.mm (64², float32) on cpu" in out and "at 0.31 of it" in out
    for piece in ("| WGAN-GP training |", "| AE training |", "| inversion |", "| **total** |"):
        assert piece in out
    assert "not measured" in out and "Generator checkpoints" in out


def test_an_autoencoder_iteration_counts_about_three_forward_passes():
    # forward, then backward: gradients of inputs and of weights, each about one forward (the first layer needs no
    # input gradient), so one training iteration counts between 2.5 and 3 forward passes
    import torch
    from lsgan_lib.train import images as image_training
    from lsgan_lib.chapters import latent_space as ls

    cost = load("latent_space_cost")
    config = ls.ae_config("cifar10", 16, 32, 16, 2, cost.COUNT_BATCH, 8, 0)
    iteration = cost.per_iteration(image_training._train_autoencoder, config)
    encoder, decoder = image_training.build_autoencoder(config, 3, 16)
    x = torch.zeros(cost.COUNT_BATCH, 3, 16, 16)
    forward = cost.flops(lambda: decoder(encoder(x)))
    assert 2.5 * forward <= iteration <= 3.0 * forward


def test_the_toy_training_benchmark_times_the_original_codes_setting(capsys):
    load("toy_training").main(["--iters", "2", "--warmup", "1", "--repeats", "1", "--members", "2",
                               "--device", "cpu", "--setting", "original_code", "--only-batched", "--wgan-widths"])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "trainer |" not in line]
    assert len(rows) == 1 and "_train_batched" in rows[0] and "setting original_code" in out


def test_the_image_training_benchmark_prints_its_table(capsys):
    load("image_training").main(["--dataset", "mnist", "--size", "16", "--width", "16", "--batch", "4", "--dim", "4",
                                 "--iters", "1", "--repeats", "1", "--n-train", "32"])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "trainer |" not in line]
    assert len(rows) == 10 and "plain loop, WGAN-GP" in rows[0] and "library _train (WGAN-GP)" in rows[4]
    assert rows[6].startswith("| library _train (WGAN-GP), channels_last=True, bf16 |")
    assert rows[9].startswith("| library _train_autoencoder, channels_last=True, bf16 |")
    assert "(equal)" in out and "torch.mm 1024² float32" in out and "penalty's share" in out
    assert "bfloat16:" in out and out.count("(target ≥ 1.5×)") == 2


def test_the_latent_space_pilot_prints_the_gate_per_snapshot(capsys):
    load("latent_space_pilot").main(["--dataset", "mnist", "--size", "16", "--width", "16", "--batch", "4", "--dim",
                                     "4", "--iters", "10", "--ae-iters", "3", "--n-fid", "20", "--n-train", "32",
                                     "--feature-train", "100", "--feature-steps", "2"])
    out = capsys.readouterr().out
    assert "| 0 | " in out and "| 10 | " in out and "FD / FD at initialisation" in out and "autoencoder, 3" in out
    assert "FD / floor" in out and "moved " in out and "excess kurtosis" in out


def test_the_sweep_benchmark_prints_its_table(capsys):
    load("sweep").main(["--points", "2", "--n-iter", "2", "--workers", "2"])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "executor |" not in line]
    assert len(rows) == 3 and rows[0].startswith("| serial") and rows[1].startswith("| serial, torch threads: 1")
    assert rows[2].startswith("| LocalCluster, 2 workers")
    assert "2 points" in out


def test_the_toy_reference_pilot_prints_the_gate_measurements_at_every_snapshot(capsys):
    load("toy_reference_pilot").main(["--data", "twenty_five_gaussians", "--objectives", "wgan", "minimax",
                                      "--seeds", "7", "--width", "8", "--iters", "wgan=4", "minimax=2",
                                      "--snapshots", "2"])
    out = capsys.readouterr().out
    assert "# wgan on twenty_five_gaussians" in out and "# minimax on twenty_five_gaussians" in out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "iteration |" not in line]
    assert [row.split(" | ")[0] for row in rows] == ["| 0", "| 2", "| 4", "| 0", "| 1", "| 2"]
    assert all(len(row.split(" | ")) == 5 for row in rows)
    assert all(row.split(" | ")[4].startswith("1.000") for row in rows if row.startswith("| 0 "))  # vs itself


def test_the_level_set_image_pilot_prints_the_image_gate_per_snapshot(capsys):
    load("level_set_image_pilot").main(["--iters", "4", "--snapshots", "2", "--width", "8", "--n-eval", "50",
                                        "--n-train", "128", "--classifier-train", "200"])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "iteration |" not in line]
    assert [row.split(" | ")[0] for row in rows] == ["| 0", "| 2", "| 4"]
    assert rows[0].split(" | ")[1] == "1.000"  # snapshot 0 is the untrained generator: the gate's denominator
    assert "# pilot: mnist, level_set, width 8" in out and "not measured (needs more than 100 iterations)" in out


def test_the_level_set_grid_pilot_prints_the_learned_gate_per_snapshot_and_its_rule(capsys):
    load("level_set_grid_pilot").main(["--iters", "4", "--snapshots", "2", "--width", "8", "--n-gens", "1",
                                       "--lrs", "1e-4", "1e-3"])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "iteration |" not in line]
    assert [row.split(" | ")[0] for row in rows] == ["| 0", "| 2", "| 4"]
    assert rows[0].split(" | ")[1].startswith("1.000")  # snapshot 0 is the untrained generator: the ratio's denominator
    assert "Rule: lr 0.001 passes" in out and ("NOT SEPARATED" in out or "SEPARATED" in out)
    with pytest.raises(SystemExit):
        load("level_set_grid_pilot").main(["--seeds", "100"])  # a selection seed of the chapter is refused


def test_the_precision_study_prints_a_table_per_setting_and_a_verdict_line_per_setting(capsys):
    study = load("precision_study")
    study.main(["--seeds", "2", "--iters", "3", "--settings", "jsd_minimax", "geometric_view"])
    out = capsys.readouterr().out
    assert "## jsd_minimax, bf16 against fp32: 2 seeds (300–301), 3 iterations" in out and "## geometric_view" in out
    verdicts = [line for line in out.splitlines() if line.startswith(("jsd_minimax:", "geometric_view:"))]
    assert len(verdicts) == 2 and all(v.endswith("(a trial length: does not count)") for v in verdicts)
    assert study.band("modes within 0.1", [8.0, 6.0], ("modes within 0.1",)) == 1.0
    assert study.band("fit ratio", [0.4, -0.6], ()) == pytest.approx(0.01)  # 10% of |fp32 mean|
    low, high = study.bootstrap_interval([1.0, 1.0, 1.0])
    assert low == high == 1.0
    with pytest.raises(SystemExit, match="first-seed"):
        study.main(["--first-seed", "4"])


def test_the_precision_studys_null_control_trains_fp32_from_networks_one_ulp_apart(capsys):
    study = load("precision_study")
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    before = [p.detach().clone() for p in net.parameters()]
    study.one_ulp_apart(net, seed=0)
    old, new = torch.cat([p.flatten() for p in before]), torch.cat([p.detach().flatten() for p in net.parameters()])
    assert (new != old).all() and (new > old).any() and (new < old).any()  # every element, in both directions
    assert ((new - old).abs() <= old.abs() * 2.0 ** -23 + 1e-45).all()  # one unit in the last place, no more
    config = study.SETTINGS["jsd_minimax"].build(300, 3, "fp32")
    plain, _ = study.batched.build_networks(config)
    with study.initial_networks("fp32-ulp"):
        apart, _ = study.batched.build_networks(config)
    with study.initial_networks("bf16"):
        same, _ = study.batched.build_networks(config)
    for p, q, r in zip(plain.parameters(), apart.parameters(), same.parameters()):
        assert (p != q).all() and torch.equal(p, r)
    original = study.batched.build_networks
    study.main(["--seeds", "2", "--iters", "3", "--settings", "jsd_minimax", "--candidate", "fp32-ulp"])
    assert study.batched.build_networks is original  # the patch is undone
    out = capsys.readouterr().out
    assert "## jsd_minimax, fp32-ulp against fp32: 2 seeds (300–301), 3 iterations" in out
    assert "| modes covered (3σ) | 300 |" in out and "(null control)" in out
    with pytest.raises(SystemExit, match="toy settings only"):
        study.main(["--seeds", "2", "--iters", "1", "--settings", "celeba_wgan_gp", "--candidate", "fp32-ulp"])


def test_the_alignment_cost_bench_prints_a_row_per_run_kind(capsys, tmp_path):
    load("alignment_cost").main(["--iters", "2", "--members", "1", "--w2-1024-members", "1",
                                 "--results", str(tmp_path)])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and "run |" not in line]
    assert len(rows) == len(load("alignment_cost").KINDS) and any("w2 B = 1024" in row for row in rows)


def test_the_missing_modes_pilot_prints_the_premise_per_seed_and_its_decision(capsys):
    load("missing_modes_pilot").main(["--seeds", "500", "--pretrain-iter", "2", "--critic-iter", "2", "--n-iter", "2",
                                      "--n-critic", "1", "--width", "8"])
    out = capsys.readouterr().out
    assert "seed 500: pre-trained kept" in out and "premise met in every seed:" in out


def test_the_w2_iterations_pilot_prints_each_seeds_gate_gain_and_the_count_per_snapshot(capsys, monkeypatch):
    monkeypatch.delenv("LSGAN_SCHEDULER", raising=False)
    load("w2_iterations_pilot").main(["--seeds", "850", "851", "--iters", "2", "--snapshots", "1", "2"])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| 85")]
    assert [row.split(" | ")[0] for row in rows] == ["| 850", "| 851"] and all(row.count("|") == 5 for row in rows)
    assert "iteration 1: " in out and "iteration 2: " in out and "of 2 seeds pass the learned gate" in out


def test_the_thread_contention_bench_prints_a_row_per_competitor_and_restores_the_thread_count(capsys):
    before = torch.get_num_threads()
    load("thread_contention").main(["--width", "8", "--steps", "2", "--repeats", "1"])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines()[2:] if line.strip()]
    assert [row[:34].strip() for row in rows] == ["none (quiet)", "busy loop, normal priority",
                                                  "busy loop, SCHED_IDLE"]
    assert all(len(row.split()) >= 2 and float(row.split()[-1]) > 0 for row in rows)
    assert torch.get_num_threads() == before


def test_the_precision_study_combines_one_variants_seeds_saved_by_two_calls(tmp_path, capsys):
    study = load("precision_study")
    common = ["--iters", "3", "--settings", "jsd_minimax", "--seeds", "2"]
    study.main([*common, "--precisions", "fp32", "--save", str(tmp_path / "a")])
    study.main([*common, "--precisions", "fp32", "--first-seed", "302", "--save", str(tmp_path / "b")])
    study.main([*common[:-1], "4", "--precisions", "bf16", "--save", str(tmp_path / "c")])
    capsys.readouterr()
    study.main(["--settings", "jsd_minimax", "--combine", *(str(tmp_path / x) for x in "bac")])
    out = capsys.readouterr().out
    assert "## jsd_minimax, bf16 against fp32: 4 seeds (300–303), 3 iterations" in out
    assert [line.split(" | ")[1] for line in out.splitlines() if line.startswith("| on-support share | 30")] == \
        ["300", "301", "302", "303"]  # ordered by seed whichever folder came first
    with pytest.raises(SystemExit, match="saved twice"):
        study.main(["--settings", "jsd_minimax", "--combine", str(tmp_path / "a"), str(tmp_path / "a")])
