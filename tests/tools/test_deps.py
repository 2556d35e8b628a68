"""Dependencies between `app/` packages point one way: no import cycle (run by `make lint`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app.tools.deps import ROOT, cycles, package_graph

# api/cli/tasks -> pipeline -> capabilities -> foundations (STYLE.md, rule 11)
FOUNDATIONS = {"errors", "config", "db", "state", "policy", "lifecycle"}


def test_no_two_packages_of_app_import_each_other_even_through_others() -> None:
    assert cycles(package_graph()) == []


def test_the_foundations_import_no_capability_and_no_entry_point() -> None:
    graph = package_graph()
    for name in FOUNDATIONS:
        assert graph[name] <= FOUNDATIONS, f"{name} imports {graph[name] - FOUNDATIONS}"


def test_nothing_below_the_entry_points_imports_them() -> None:
    graph = package_graph()
    entry_points = {"api", "cli", "tasks", "demo"}
    for name, targets in graph.items():
        if name not in entry_points:
            assert not targets & {"api", "cli", "tasks"}, f"{name} imports {targets}"


def test_the_pipeline_is_imported_only_by_entry_points_and_the_evaluation() -> None:
    graph = package_graph()
    importers = {name for name, targets in graph.items() if "pipeline" in targets}
    assert importers <= {"api", "cli", "tasks", "demo", "evaluation"}


def test_a_cycle_is_found_however_long_it_is() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_a_lazy_import_inside_a_function_counts(tmp_path: Path) -> None:
    for package, source in (
        ("one", "def f():\n    from app.two import g\n"),
        ("two", "from app.one import f\n"),
    ):
        folder = tmp_path / "app" / package
        folder.mkdir(parents=True)
        (folder / "__init__.py").write_text(source)
    (tmp_path / "tasks").mkdir()
    graph = package_graph(tmp_path)
    assert graph["one"] == {"two"} and cycles(graph) == [["one", "two"]]


def test_the_command_prints_the_graph_and_exits_0_without_a_cycle() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app.tools.deps"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout
    assert "pipeline" in result.stdout and result.stdout.strip().endswith("no cycle")
