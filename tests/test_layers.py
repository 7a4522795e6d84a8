"""The library's layers: each folder imports only the folders below it, there are no import circles, and training a
toy GAN from a script does not load the book runner (papermill, nbclient, jupyter-book, lsgan_lib.book)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parent.parent / "lsgan_lib"
# lower number = lower floor; a module may import its own floor or any floor below it
FLOORS = {"cache": 0, "files": 0, "data": 1, "models": 1, "train": 2, "measure": 3, "chapters": 4, "plots": 4,
          "book": 5, "__main__": 6, "__init__": 6}


def _floor(module: str) -> int:
    return FLOORS[module.split(".")[0]]


def _imports() -> dict[str, set[str]]:
    """``lsgan_lib``-relative module name -> the library modules it imports (at any depth of the file)."""
    graph = {}
    for path in LIB.rglob("*.py"):
        rel = path.relative_to(LIB).with_suffix("")
        name = ".".join(p for p in rel.parts if p != "__init__") or "__init__"
        package = list(rel.parts[:-1])
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[: len(package) - node.level + 1]
                    parts = base + (node.module.split(".") if node.module else [])
                elif node.module and node.module.startswith("lsgan_lib"):
                    parts = node.module.split(".")[1:]
                else:
                    continue
                if node.module is None or not parts:
                    parts_list = [parts + [alias.name] for alias in node.names]
                else:
                    parts_list = [parts]
                for p in parts_list:
                    candidate = ".".join(p)
                    if (LIB / Path(*p)).with_suffix(".py").is_file() or (LIB / Path(*p)).is_dir():
                        targets.add(candidate)
                    elif len(p) > 1:
                        targets.add(".".join(p[:-1]))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("lsgan_lib."):
                        targets.add(alias.name.split(".", 1)[1])
        graph[name] = {t for t in targets if t and t != name}
    return graph


def test_no_module_imports_a_floor_above_its_own():
    upward = [f"{m} -> {t}" for m, ts in _imports().items() for t in ts
              if m not in ("__init__", "__main__") and _floor(t) > _floor(m)]
    assert not upward, "imports that climb a floor: " + "; ".join(sorted(upward))


def test_there_are_no_import_circles():
    imports = _imports()
    graph = {m: {t for t in ts if t in imports} for m, ts in imports.items()}
    state, circles = {}, []

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                circles.append(" -> ".join(path[path.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not circles, "import circles: " + "; ".join(circles)


@pytest.mark.parametrize("package", ["lsgan_lib.train", "lsgan_lib.train.batched", "lsgan_lib.train.toy",
                                     "lsgan_lib.train.images", "lsgan_lib.measure.claims", "lsgan_lib.measure.metrics",
                                     "lsgan_lib.chapters.level_set"])
def test_training_and_measuring_do_not_load_the_book_runner(package):
    code = (f"import sys, {package}\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('papermill', 'nbclient', 'jupyter_book', 'distributed')"
            " or m.startswith('lsgan_lib.book')]\n"
            "print(','.join(sorted(bad)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"importing {package} loaded {out}"
