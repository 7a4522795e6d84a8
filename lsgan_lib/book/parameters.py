"""Profiles and parameters: where the project is, which chapters and profiles it has, and every value a chapter
runs with, checked against the notebook's cell tagged ``parameters`` before any kernel starts (the syntax is in
:mod:`lsgan_lib.book.cli`)."""


from __future__ import annotations

import ast
import io
import json
import math
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

EXIT_BAD_PARAMETERS = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command stopped by Ctrl-C
PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
SCALAR_TYPES = {"int": int, "float": float, "bool": bool, "str": str}


class ParameterError(ValueError):
    """A parameter that a chapter does not have, or a value it does not accept."""


# ---------------------------------------------------------------------------------------------------------------------
# Project layout
# ---------------------------------------------------------------------------------------------------------------------


def project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the working directory) holding ``_config.yml`` and
    ``notebooks/``; else the folder above this package."""
    here = (start or Path.cwd()).resolve()
    for folder in [here, *here.parents]:
        if (folder / "_config.yml").is_file() and (folder / "notebooks").is_dir():
            return folder
    return Path(__file__).resolve().parents[2]


def chapters(root: Path) -> list[str]:
    """The chapters: every ``notebooks/<name>.ipynb``, in the book's order (``_toc.yml``), any not in the table of
    contents after them by name."""
    names = {p.stem for p in (root / "notebooks").glob("*.ipynb")}
    toc_path = root / "_toc.yml"
    toc = yaml.safe_load(toc_path.read_text()) if toc_path.is_file() else {}
    listed = [str(entry.get("file", "")).split("/")[-1] for part in (toc or {}).get("parts", [])
              for entry in part.get("chapters", [])]
    ordered = [name for name in dict.fromkeys(listed) if name in names]
    return ordered + sorted(names - set(ordered))


def profiles(root: Path) -> list[str]:
    return sorted(p.stem for p in (root / "notebooks" / "profiles").glob("*.yml"))


def profile_label(profile: str | Path) -> str:
    """A profile's name: the name given to ``--profile``, or the stem of a ``--profile-file``."""
    return profile.stem if isinstance(profile, Path) else profile


def profile_path(root: Path, profile: str | Path) -> Path:
    """The file of a profile: ``notebooks/profiles/<name>.yml`` for a name (only names listed there: never a path), or
    the explicit file given as a :class:`~pathlib.Path` (``--profile-file``)."""
    if isinstance(profile, Path):
        if not profile.is_file():
            raise ParameterError(f"--profile-file {profile}: no such file")
        return profile
    if not PROFILE_NAME.fullmatch(profile) or profile not in profiles(root):
        raise ParameterError(f"unknown profile {profile!r}; available: {', '.join(profiles(root))} (a profile file "
                             "elsewhere goes through --profile-file PATH)")
    return root / "notebooks" / "profiles" / f"{profile}.yml"


def load_profile(root: Path, name: str | Path) -> dict[str, dict[str, Any]]:
    """``notebooks/profiles/<name>.yml`` (or the file ``name`` when it is a :class:`~pathlib.Path`): chapter →
    parameter values. An unknown profile, or a file that is not plain YAML of that shape, is a :class:`ParameterError`
    naming the file (and the line)."""
    path = profile_path(root, name)
    try:
        content = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:  # malformed, or a tag such as !!python/object that safe_load refuses
        mark = getattr(error, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ParameterError(f"profile file {path}{where}: not a plain YAML mapping of chapters to parameters "
                             f"({problem})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ParameterError(f"profile file {path} cannot be read: {error}") from None
    if not isinstance(content, dict) or not all(isinstance(v, dict) or v is None for v in content.values()):
        raise ParameterError(f"{path} must map chapter names to parameter mappings")
    return {chapter: dict(values or {}) for chapter, values in content.items()}


def check_profile_chapters(root: Path, profile: str | Path, selected: list[str], allow_defaults: bool = False
                           ) -> None:
    """Refuse a profile whose chapter keys are not chapters (naming the closest one), and, unless ``allow_defaults``,
    one that is empty or has no entry for a chapter in ``selected`` — which would run that chapter at the notebook's
    defaults (for the book: hours)."""
    import difflib

    known = chapters(root)
    path = profile_path(root, profile)
    content = load_profile(root, profile)
    for key in content:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ParameterError(f"profile file {path}: {key!r} is not a chapter{hint} (chapters: {', '.join(known)})")
    missing = [chapter for chapter in selected if chapter not in content]
    if missing and not allow_defaults:
        what = "is empty" if not content else f"has no entry for {', '.join(missing)}"
        raise ParameterError(f"profile file {path} {what}, so {'it' if len(missing) == 1 else 'they'} would run at the "
                             "notebook's defaults (the full-scale settings). Fix: add "
                             f"{'the chapter' if len(missing) == 1 else 'the chapters'} to the file, or pass "
                             "--allow-defaults to run at the defaults")


def default_profile() -> str:
    """``gpu`` when CUDA is available, else ``cpu``."""
    import torch

    return "gpu" if torch.cuda.is_available() else "cpu"


# ---------------------------------------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str  # "int", "float", "bool", "str" or "list[<scalar>]"
    default: Any
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None
    help: str = ""

    @property
    def allowed(self) -> str:
        kind = f"a list of {self.type[5:-1]}" if self.type.startswith("list[") else f"a {self.type}"
        if self.choices is not None:
            return f"{kind} from {{{', '.join(repr(c) for c in self.choices)}}}"
        if self.low is not None or self.high is not None:
            lo = "-inf" if self.low is None else repr(self.low)
            hi = "inf" if self.high is None else repr(self.high)
            return f"{kind} in [{lo}, {hi}]"
        return kind


def _parameters_cell(notebook: dict, path: Path) -> str:
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    raise ParameterError(f"{path} has no cell tagged 'parameters'")


def _comments(source: str) -> dict[int, str]:
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return {tok.start[0]: tok.string[1:].strip() for tok in tokens if tok.type == tokenize.COMMENT}


def _parse_constraint(comment: str) -> tuple[float | None, float | None, tuple | None, str]:
    """Split ``[lo, hi] help`` or ``{a, b} help`` into its constraint and help text."""
    match = re.match(r"^(\[[^\]]*\]|\{[^}]*\})\s*(.*)$", comment)
    if not match:
        return None, None, None, comment
    spec, text = match.groups()
    if spec.startswith("{"):
        return None, None, tuple(ast.literal_eval("[" + spec[1:-1] + "]")), text
    low, high = ast.literal_eval("(" + spec[1:-1] + ")")
    return low, high, None, text


def notebook_parameters(path: Path) -> dict[str, Parameter]:
    """The parameters a notebook declares in its cell tagged ``parameters`` (see the module docstring)."""
    try:
        notebook = json.loads(Path(path).read_text())
    except (UnicodeDecodeError, ValueError) as error:
        raise ParameterError(f"{path} is not a readable notebook ({type(error).__name__}: truncated or edited). Fix: "
                             f"`git checkout {Path(path).name}` in notebooks/, or repair it") from None
    source = _parameters_cell(notebook, path)
    comments = _comments(source)
    parameters = {}
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None):
            raise ParameterError(f"{path}: every line of the parameters cell must read `name: type = value  # ...`, "
                                 f"found: {ast.unparse(node)}")
        kind = ast.unparse(node.annotation)
        scalar = kind[5:-1] if kind.startswith("list[") and kind.endswith("]") else kind
        if scalar not in SCALAR_TYPES:
            raise ParameterError(f"{path}: parameter {node.target.id!r} has unsupported type {kind!r}")
        low, high, choices, text = _parse_constraint(comments.get(node.lineno, ""))
        parameter = Parameter(node.target.id, kind, ast.literal_eval(node.value), low, high, choices, text)
        validate(parameter, parameter.default, "the notebook's default")
        parameters[parameter.name] = parameter
    return parameters


def _as_float(value: Any) -> Any:
    """An int widened to float, and a string Python reads as a float (YAML 1.1 reads ``1e-10`` as a string) read as
    one; anything else unchanged."""
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return value
    return value


def _check_scalar(parameter: Parameter, value: Any, scalar: str, origin: str) -> Any:
    expected = SCALAR_TYPES[scalar]
    if scalar == "float":
        value = _as_float(value)
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ParameterError(f"parameter {parameter.name!r}: {value!r} ({origin}) is not {parameter.allowed}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ParameterError(f"parameter {parameter.name!r}: {value!r} ({origin}) is not a finite number; "
                             f"allowed: {parameter.allowed}")
    if parameter.choices is not None and value not in parameter.choices:
        raise ParameterError(f"parameter {parameter.name!r}: {value!r} ({origin}) is not allowed; "
                             f"allowed: {parameter.allowed}")
    if (parameter.low is not None and value < parameter.low) or (parameter.high is not None and value > parameter.high):
        raise ParameterError(f"parameter {parameter.name!r}: {value!r} ({origin}) is out of range; "
                             f"allowed: {parameter.allowed}")
    return value


def is_seed_list(parameter: Parameter) -> bool:
    """Whether the parameter is a list of seeds (a list whose name starts or ends with ``seeds``): its runs must be
    distinct, or one run would be counted as several (a five-seed interval from one seed)."""
    return parameter.type.startswith("list[") and (parameter.name.startswith("seeds") or
                                                   parameter.name.endswith("seeds"))


def validate(parameter: Parameter, value: Any, origin: str) -> Any:
    """``value`` checked (and ``int`` widened to ``float``) against the parameter's type and constraint; a seeds list
    (:func:`is_seed_list`) must not repeat a seed."""
    if parameter.type.startswith("list["):
        if not isinstance(value, list):
            raise ParameterError(f"parameter {parameter.name!r}: {value!r} ({origin}) is not {parameter.allowed}")
        if not value and parameter.default:
            raise ParameterError(f"parameter {parameter.name!r}: [] ({origin}) is empty; the chapter needs at least "
                                 f"one element ({parameter.allowed})")
        checked = [_check_scalar(parameter, v, parameter.type[5:-1], origin) for v in value]
        repeated = [v for i, v in enumerate(checked) if v in checked[:i]]
        if repeated and is_seed_list(parameter):
            raise ParameterError(f"parameter {parameter.name!r}: {value!r} ({origin}) repeats the seed "
                                 f"{repeated[0]!r}; each seed is one independent run, so give distinct seeds")
        return checked
    return _check_scalar(parameter, value, parameter.type, origin)


def parse_overrides(pairs: list[str]) -> list[tuple[str | None, str, Any]]:
    """``["n_iter=5", "geometric_view.seeds=[0, 1]"]`` → ``[(None, "n_iter", 5), ("geometric_view", "seeds", [0, 1])]``.

    Values are read as YAML, so ``5`` is an int, ``0.5`` a float, ``true`` a bool and ``[0, 1]`` a list.
    """
    parsed = []
    for pair in pairs:
        if "=" not in pair:
            raise ParameterError(f"-p takes name=value, got {pair!r}")
        key, raw = pair.split("=", 1)
        chapter, _, name = key.strip().rpartition(".")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as error:
            raise ParameterError(f"parameter {name!r}: cannot read value {raw!r}: {error}") from None
        parsed.append((chapter or None, name, value))
    return parsed


def resolve_parameters(root: Path, chapter: str, profile: str | Path, overrides: list[tuple[str | None, str, Any]]
                       ) -> dict[str, Any]:
    """All of a chapter's parameter values: notebook defaults, then the profile (a name, or a
    :class:`~pathlib.Path` of a profile file), then ``-p`` overrides; validated."""
    declared = notebook_parameters(root / "notebooks" / f"{chapter}.ipynb")
    values = {name: p.default for name, p in declared.items()}
    label = profile_label(profile)
    profile_values = load_profile(root, profile).get(chapter, {})
    sources = [(name, value, f"profile {label}") for name, value in profile_values.items()]
    sources += [(name, value, "-p") for target, name, value in overrides if target in (None, chapter)]
    for name, value, origin in sources:
        if name == "profile":
            raise ParameterError(f"'profile' is not a parameter ({origin}): choose the profile with --profile NAME "
                                 "or --profile-file PATH")
        if name not in declared:
            raise ParameterError(f"unknown parameter {name!r} for chapter {chapter} ({origin}); "
                                 f"known: {', '.join(declared)}")
        values[name] = validate(declared[name], value, origin)
    if "profile" in declared:
        values["profile"] = label
    return values
