"""The benchmark scripts run (they time nothing here: a benchmark's numbers are read from its output, not asserted)."""

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_toy_training_benchmark_prints_its_table(capsys):
    load("toy_training").main(["--iters", "2", "--warmup", "1", "--repeats", "1", "--members", "1", "3",
                               "--device", "cpu"])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "trainer |" not in line]
    assert [row.split(" | ")[1] for row in rows] == ["1", "1", "1", "3"]
    assert "plain PyTorch loop" in rows[0] and "_train_batched" in rows[3]
    assert "torch 2." in out and "device: cpu" in out
