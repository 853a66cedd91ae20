"""The layers import one way (docs/architecture.md, "Layers").

money rules <- models <- queries and valuation <- services <- views, API, tasks, admin.

The imports are read with ``ast``, not by importing anything, and every import statement
counts: at module level, inside functions (a lazy import is still a dependency, and the
usual way a cycle hides) and under ``if TYPE_CHECKING:``. An import names one module: ``from
trading.models import Account`` depends on ``trading.models``, ``from trading import views``
on ``trading.views``; a parent package is not counted as imported by its children, so a
package ``__init__`` may re-export its submodules.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("pies", "trading", "pieproject")

# Bottom to top: a module may import its own layer and the ones below it, never one above.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "config",
        (
            "pies",
            "trading",
            "pieproject",
            "pieproject.settings",
            "pieproject.env",
            "pieproject.celery",
            "pieproject.testenv",
            "pieproject.devservers",
            "pieproject.clientip",
        ),
    ),
    (
        "money rules",
        (
            "pies.allocation",
            "pies.donut",
            "trading.money",
            "trading.lots",
            "trading.calendar",
            "trading.brokers",
            "trading.recurrence",
            "trading.returns",
            "trading.chart",
        ),
    ),
    (
        "models",
        (
            "pies.apps",
            "trading.apps",
            "pies.models",
            "trading.models",
            "trading.models.*",
            "*.migrations",
            "*.migrations.*",
        ),
    ),
    (
        "queries",
        (
            "pies.tree",
            "trading.valuation",
            "trading.prices",
            "trading.books",
            "trading.access",
            "trading.ownership",
            "trading.performance",
        ),
    ),
    (
        "services",
        (
            "pies.services",
            "trading.services",
            "trading.services.*",
            "trading.window",
            "trading.window.*",
            "trading.ops",
        ),
    ),
    (
        "interfaces",
        (
            "*.views",
            "*.views.*",
            "*.api",
            "*.api.*",
            "*.urls",
            "*.ops_urls",
            "*.api_urls",
            "*.forms",
            "*.serializers",
            "*.renderers",
            "*.tasks",
            "*.admin",
            "*.admin.*",
            "*.templatetags",
            "*.templatetags.*",
            "*.management",
            "*.management.*",
            "trading.demo",
            "pieproject.htmx",
            "pieproject.middleware",
            "pieproject.api_errors",
            "pieproject.headers",
            "pieproject.pagination",
            "pieproject.wsgi",
        ),
    ),
]
VIEWS = ("*.views", "*.views.*")
URL_CONFS = ("*.urls", "*.ops_urls", "*.api_urls")


def matches(module: str, patterns: Iterable[str]) -> bool:
    return any(fnmatchcase(module, pattern) for pattern in patterns)


def layer_of(module: str) -> int | None:
    for rank, (_, patterns) in enumerate(LAYERS):
        if matches(module, patterns):
            return rank
    return None


def find_modules(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imports_of(module: str, path: Path, modules: Mapping[str, Path]) -> set[str]:
    """The project modules that ``module`` imports, anywhere in its file."""

    def known(name: str) -> str | None:
        # "trading.models.Account" -> "trading.models": the longest prefix that is a module.
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(filter(None, (known(alias.name) for alias in node.names)))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                target = submodule if submodule in modules else known(base)
                if target:
                    found.add(target)
    found.discard(module)
    return found


def import_graph(root: Path = ROOT, packages: Iterable[str] = PACKAGES) -> dict[str, set[str]]:
    modules = find_modules(root, packages)
    return {module: imports_of(module, path, modules) for module, path in modules.items()}


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


def test_every_module_is_placed_in_a_layer(graph):
    unplaced = sorted(module for module in graph if layer_of(module) is None)
    assert unplaced == [], "Add these modules to LAYERS in this file: " + ", ".join(unplaced)


def test_no_modules_import_each_other_in_a_cycle(graph):
    found = cycles(graph)
    assert not found, "\n".join(" <-> ".join(cycle) for cycle in found)


def test_no_module_imports_a_higher_layer(graph):
    upward = [
        f"{module} ({LAYERS[layer_of(module) or 0][0]}) imports {target} "
        f"({LAYERS[layer_of(target) or 0][0]})"
        for module, targets in sorted(graph.items())
        for target in sorted(targets)
        if (layer_of(target) or 0) > (layer_of(module) or 0)
    ]
    assert not upward, "\n".join(upward)


def may_import_views(module: str, target: str) -> bool:
    """URL confs route to views; a views package's modules import each other. Nothing else
    does: the API, the services, the models and the other app's pages share a helper with
    the pages through a lower layer (``trading.access`` for the ownership rule)."""
    same_app = module.partition(".")[0] == target.partition(".")[0]
    return matches(module, URL_CONFS) or (same_app and matches(module, VIEWS))


def test_views_are_imported_by_url_confs_and_their_own_package_only(graph):
    wrong = [
        f"{module} imports {target}"
        for module, targets in sorted(graph.items())
        for target in sorted(targets)
        if matches(target, VIEWS) and not may_import_views(module, target)
    ]
    assert not wrong, "\n".join(wrong)


def test_pies_and_trading_import_each_other_one_way_in_each_layer(graph):
    directions: dict[int, set[str]] = {}
    for module, targets in graph.items():
        for target in targets:
            apps = (module.partition(".")[0], target.partition(".")[0])
            if set(apps) == {"pies", "trading"} and layer_of(module) == layer_of(target):
                directions.setdefault(layer_of(module) or 0, set()).add(" -> ".join(apps))
    both_ways = {
        LAYERS[rank][0]: sorted(ways) for rank, ways in directions.items() if len(ways) > 1
    }
    assert not both_ways, both_ways


# --- the walker itself ---------------------------------------------------------------------------


def test_the_walker_sees_imports_inside_functions_and_relative_ones(tmp_path):
    (tmp_path / "app" / "sub").mkdir(parents=True)
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "sub" / "__init__.py").write_text("from . import low\n")
    (tmp_path / "app" / "sub" / "low.py").write_text(
        "def value():\n    from app.high import VALUE\n    return VALUE\n"
    )
    (tmp_path / "app" / "high.py").write_text(
        "from typing import TYPE_CHECKING\nfrom .sub.low import value\n"
        "if TYPE_CHECKING:\n    import app.sub\nVALUE = 1\n"
    )
    graph = import_graph(tmp_path, ["app"])
    assert graph == {
        "app": set(),
        "app.sub": {"app.sub.low"},
        "app.sub.low": {"app.high"},
        "app.high": {"app.sub.low", "app.sub"},
    }
    assert cycles(graph) == [["app.high", "app.sub", "app.sub.low"]]  # TYPE_CHECKING counts
