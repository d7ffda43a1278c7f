"""The layout's rules, checked on the source: features depend downward and never on another
feature's listeners; shared folders never import a feature; no import cycles."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support import ROOT

BOT = ROOT / "bot"
FEATURES = {"tasks", "status", "home", "links", "workflow", "workspaces"}
SHARED = {"slack", "maxcare", "db", "runtime"}


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in BOT.rglob("*.py"):
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module.startswith("bot"):
                    found.add(node.module)
                    found.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("bot"))
        graph[_module(path)] = found
    modules = set(graph)
    return {m: {i for i in deps if i in modules and i != m} for m, deps in graph.items()}


def _area(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 else None


def test_no_feature_imports_another_features_listeners() -> None:
    bad = [
        (m, i) for m, deps in _imports().items() for i in deps
        if _area(i) in FEATURES and i.endswith(".listeners") and _area(m) != _area(i)
        and m != "bot.app"
    ]
    assert bad == []


def test_shared_folders_never_import_a_feature() -> None:
    bad = [
        (m, i) for m, deps in _imports().items() for i in deps
        if _area(m) in SHARED and _area(i) in FEATURES
    ]
    assert bad == []


def test_there_are_no_import_cycles() -> None:
    graph = _imports()
    # Every import counts, even inside functions: stricter than Python needs.
    seen: dict[str, int] = {}

    def visit(module: str, path: list[str]) -> list[str] | None:
        state = seen.get(module)
        if state == 1:
            return [*path, module]
        if state == 2:
            return None
        seen[module] = 1
        for dep in sorted(graph.get(module, ())):
            cycle = visit(dep, [*path, module])
            if cycle:
                return cycle
        seen[module] = 2
        return None

    for module in sorted(graph):
        assert visit(module, []) is None


def test_no_module_is_over_400_lines_without_saying_why() -> None:
    long = []
    for path in BOT.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > 400 and "lines" not in (ast.get_docstring(ast.parse(text)) or ""):
            long.append(str(path.relative_to(ROOT)))
    assert long == []
