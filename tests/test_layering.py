"""Dependencies point inward: the import graph of nvr/ obeys the house layering."""

from __future__ import annotations

import ast
from pathlib import Path

NVR = Path(__file__).resolve().parent.parent / "nvr"

# package -> the nvr packages it may import (itself always allowed)
ALLOWED: dict[str, set[str]] = {
    "domain": set(),
    "clock": set(),
    "eventlog": {"domain", "clock"},
    "projections": {"domain", "eventlog", "clock"},
    "shm": set(),
    "workers": {"domain", "eventlog", "projections", "clock", "shm"},
    "ui_local": {"domain", "eventlog", "projections", "clock", "shm"},
    "ui_web": {"domain", "eventlog", "projections", "clock", "shm"},
}


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {name.split(".")[1] for name in found if name.startswith("nvr.") and name.count(".") >= 1}


def test_layering() -> None:
    problems = []
    for path in NVR.rglob("*.py"):
        rel = path.relative_to(NVR)
        package = rel.parts[0].removesuffix(".py")
        if package not in ALLOWED:
            continue  # top-level wiring (cli, demo, sample) may use every layer
        for used in imports_of(path) - ALLOWED[package] - {package}:
            problems.append(f"{rel} imports nvr.{used}")
    assert not problems, "layering broken:\n" + "\n".join(sorted(problems))


def test_domain_does_no_io() -> None:
    banned = {"os", "time", "socket", "lmdb", "sqlite3", "subprocess", "pathlib", "datetime.now"}
    for path in (NVR / "domain").rglob("*.py"):
        tree = ast.parse(path.read_text())
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not names & banned, f"{path.name} imports {names & banned}"
