"""The package layout (docs/CONVENTIONS.md, Layout): a small top level, and no import cycle.

Every import counts, at module level or inside a function: a cycle hidden in a function is still a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

LIB = Path(__file__).resolve().parents[1] / "lolisr_lib"
TOP_LEVEL = {  # each entry with its one-line role; the README's library map names the same parts
    "__init__.py", "__main__.py", "config.py", "errors.py", "checkpoint.py", "model", "flow", "encoder", "image",
    "data", "train", "evaluate", "baselines", "runtime", "bench", "commands", "lessons", "viz",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(LIB.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in LIB.rglob("*.py")}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``path`` imports, anywhere in the file."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
            names = [n for n in names if n in known] or [node.module]
            if any(f"{node.module}.{a.name}" in known for a in node.names):
                names = [n for n in names if n != node.module]  # "from pkg import submodule": the submodule
        else:
            continue
        out.update(n for n in names if n in known)
    return out


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports_of(path, set(mods)) - {name} for name, path in mods.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle():
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_top_level_is_the_documented_one():
    entries = {p.name for p in LIB.iterdir() if p.name != "__pycache__"}
    assert entries == TOP_LEVEL


def test_readme_library_map_names_every_top_level_part():
    readme = (LIB.parent / "README.md").read_text()
    missing = [e for e in sorted(TOP_LEVEL - {"__init__.py", "__main__.py"}) if f"`{e.removesuffix('.py')}" not in readme]
    assert missing == []
