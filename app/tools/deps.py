"""The package graph of `app/` (and `tasks`), read from the source with an AST walk.

`python -m app.tools.deps` prints each package with the packages it imports and any
cycle between them; it exits 1 when there is a cycle. Every import counts, at module
level or inside a function: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOP = ("app", "tasks")


def package_of(module: str) -> str | None:
    """`app.pipeline.runner` -> `pipeline`; `tasks.pipeline` -> `tasks`; others: None."""
    parts = module.split(".")
    if parts[0] == "tasks":
        return "tasks"
    if parts[0] == "app" and len(parts) > 1:
        return parts[1]
    return None


def _module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, root: Path) -> Iterable[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module = _module_name(path, root)
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                drop = node.level - 1 if is_package else node.level
                base = base[: len(base) - drop] if drop else base
                yield ".".join([*base, node.module] if node.module else base)
            elif node.module:
                yield node.module
                for alias in node.names:  # `from app import pipeline`
                    yield f"{node.module}.{alias.name}"


def package_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Each package of `app/` (and `tasks`) -> the other packages it imports."""
    graph: dict[str, set[str]] = {}
    for top in TOP:
        for path in sorted((root / top).rglob("*.py")):
            source = package_of(_module_name(path, root))
            if source is None:
                continue
            targets = graph.setdefault(source, set())
            for imported in _imports(path, root):
                target = package_of(imported)
                if target is not None and target != source and _exists(root, imported):
                    targets.add(target)
    return graph


def _exists(root: Path, module: str) -> bool:
    """Whether `module` names a package or module of ours (not `from app import x` of a
    name that is not one)."""
    parts = module.split(".")
    base = root.joinpath(*parts)
    return base.is_dir() or base.with_suffix(".py").exists() or len(parts) <= 2


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def render(graph: dict[str, set[str]]) -> str:
    width = max(len(name) for name in graph)
    lines = [
        f"{name:<{width}} -> {', '.join(sorted(graph[name])) or '-'}" for name in sorted(graph)
    ]
    return "\n".join(lines)


def main() -> int:
    graph = package_graph()
    print(render(graph))
    found = cycles(graph)
    for component in found:
        print(f"cycle: {' <-> '.join(component)}")
    if not found:
        print("no cycle")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
