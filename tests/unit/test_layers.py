"""Imports follow DESIGN section 3 "Layers" (docs/architecture.md): every module imports only
from its own layer or below, the doors never import each other, only storage imports SQLAlchemy
or a database driver or names a table, and there is no import cycle.

The imports are read with `ast` from the source, so an import inside a function or under
`TYPE_CHECKING` counts as much as one at the top of a module: each is a dependency.

The doors also hand the store to the services rather than use it: a door names none of the
store's operations.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src/hookhub"
ROOT = "hookhub"

# The layers, lowest first. An entry is a package or module directly under src/hookhub/ (its
# whole subtree); "" is hookhub/__init__.py, which re-exports the SDK's public names.
LAYERS: tuple[tuple[str, ...], ...] = (
    # conditions, templates, signing, retry, policy; settings, errors, ids, logs: no I/O
    ("core", "settings", "errors", "ids", "logs", "version"),
    # storage (the only code that runs SQL), and the process plumbing beside it
    ("db", "migrations", "metrics", "server", "traffic"),
    # engines: intake, rules, dispatcher, transports, triggers, runner; brokers.py is what
    # outbound destinations and inbound sources share; the debug receiver
    ("outbound", "inbound", "workflows", "brokers", "receiver"),
    # every domain operation and its invariants; the worker process
    ("services", "worker"),
    # the Python SDK (and the package root that re-exports it), the outbox, framework glue
    ("sdk", "contrib", ""),
    # the doors: translate input and output, call services; never import each other
    ("api", "ui", "config"),
    # the composition root: builds the ASGI app, the workers, the settings
    ("app",),
    # the command line; `python -m hookhub`
    ("cli", "__main__"),
)
DOORS = frozenset({"api", "ui", "config"})
CLI_MAY_USE = frozenset({"config"})  # of the doors: the CLI may use config-as-code, no other
DRIVERS = ("sqlalchemy", "sqlite3", "asyncpg", "aiosqlite", "alembic")
# Storage; and the outbox, which writes through the caller's own connection.
MAY_IMPORT_DRIVERS = ("db", "migrations", "contrib", "sdk.outbox")
# The schema: storage is asked for a resource's rows by name (`store.workflows.get`); no one
# above passes it a table.
TABLES = f"{ROOT}.db.tables"
MAY_IMPORT_TABLES = frozenset({"db", "migrations"})


@dataclass(frozen=True)
class Module:
    name: str  # dotted: hookhub.outbound.intake; hookhub for the package root
    path: Path
    is_package: bool

    @property
    def unit(self) -> str:
        """The entry of LAYERS this module belongs to: its first name under hookhub."""
        parts = self.name.split(".")
        return parts[1] if len(parts) > 1 else ""


@cache
def modules() -> dict[str, Module]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = [ROOT, *path.relative_to(PACKAGE).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        found[name] = Module(name, path, is_package)
    return found


def _targets(module: Module, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """The modules an import statement names (a package's submodule when it imports one)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    if node.level:
        base = module.name.split(".")
        base = base[: len(base) - node.level + (1 if module.is_package else 0)]
        source = ".".join([*base, *([node.module] if node.module else [])])
    else:
        source = node.module or ""
    for alias in node.names:
        submodule = f"{source}.{alias.name}"
        yield submodule if submodule in modules() else source


@cache
def imports() -> frozenset[tuple[str, str]]:
    """Every (importing module, imported module) pair in src/hookhub."""
    edges = set()
    for module in modules().values():
        for node in ast.walk(ast.parse(module.path.read_text(), str(module.path))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                edges.update((module.name, target) for target in _targets(module, node))
    return frozenset(edges)


def _unit(name: str) -> str:
    return modules()[name].unit


def _layer(unit: str) -> int:
    for index, units in enumerate(LAYERS):
        if unit in units:
            return index
    raise AssertionError(f"src/hookhub/{unit or '__init__.py'} has no row in LAYERS")


def _is_reexport(source: str, target: str) -> bool:
    """A package's __init__ importing one of its own modules."""
    return modules()[source].is_package and target.startswith(source + ".")


def _rule_broken(source: str, target: str) -> str | None:
    """Which rule the import breaks (not counting cycles), or None."""
    unit = _unit(source)
    if target.split(".")[0] in DRIVERS:
        allowed = any(
            source == f"{ROOT}.{p}" or source.startswith(f"{ROOT}.{p}.") for p in MAY_IMPORT_DRIVERS
        )
        return None if allowed else "only storage imports SQLAlchemy or a database driver"
    if target not in modules():
        return None
    if target == TABLES and unit not in MAY_IMPORT_TABLES:
        return "only storage names tables: ask the store by name (store.workflows.get)"
    other = _unit(target)
    if unit == other:
        return None
    if unit in DOORS and other in DOORS:
        return "the doors (api/, ui/, config/) never import each other"
    if unit == "cli" and other in DOORS - CLI_MAY_USE:
        return "the CLI may use config/, no other door"
    if _layer(other) > _layer(unit):
        return "a module imports only from its own layer or below"
    return None


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in modules()}
    for source, target in imports():
        if target in modules() and target != source and not _is_reexport(source, target):
            graph[source].add(target)
    return graph


def _reaches(graph: dict[str, set[str]], start: str, goal: str) -> list[str] | None:
    """A path from start to goal, or None."""
    previous: dict[str, str] = {start: start}
    todo = [start]
    while todo:
        here = todo.pop()
        if here == goal:
            path = [goal]
            while path[-1] != start:
                path.append(previous[path[-1]])
            return path[::-1]
        for there in sorted(graph[here] - previous.keys()):
            previous[there] = here
            todo.append(there)
    return None


def _cycles() -> list[tuple[str, str, str]]:
    """Each import that closes a cycle, between modules or between folders, with the cycle."""
    graph = _graph()
    folders: dict[str, set[str]] = {}
    for source, targets in graph.items():
        folders.setdefault(_unit(source), set()).update(_unit(t) for t in targets)
    found = []
    for source in sorted(graph):
        for target in sorted(graph[source]):
            if path := _reaches(graph, target, source):
                found.append((source, target, " → ".join([source, *path])))
            elif _unit(source) != _unit(target) and (
                path := _reaches(folders, _unit(target), _unit(source))
            ):
                found.append((source, target, "folders " + " → ".join([_unit(source), *path])))
    return found


def test_every_module_has_a_layer() -> None:
    for module in modules().values():
        _layer(module.unit)


def test_imports_point_down_and_doors_stay_apart() -> None:
    broken = [
        f"{source} imports {target}: {rule}"
        for source, target in sorted(imports())
        if (rule := _rule_broken(source, target))
    ]
    assert broken == []


def test_no_import_cycle() -> None:
    """Between modules, and between folders (inbound/ and workflows/ may not import each other)."""
    cycles = [f"{source} imports {target}: {cycle}" for source, target, cycle in _cycles()]
    assert cycles == []


def test_docs_architecture_shows_the_same_layers() -> None:
    """docs/architecture.md's table lists LAYERS' rows, top layer first, naming the same units."""
    page = (PACKAGE.parents[1] / "docs/architecture.md").read_text()
    section = page.split("## Layers", 1)[1].split("\n## ", 1)[0]
    table = [line for line in section.splitlines() if line.startswith("| ")][2:]
    documented = [
        frozenset(
            name.removesuffix("/").removesuffix(".py").removeprefix("__init__")
            for name in re.findall(r"`([a-z_]+(?:/|\.py))`", row.split("|")[2])
        )
        for row in table
    ]
    assert documented == [frozenset(units) for units in reversed(LAYERS)]


# The one store operation a door may use: the CLI closes the store it opened.
DOOR_MAY_CALL = frozenset({("hookhub.cli.common", "close")})


@cache
def _store_operations() -> frozenset[str]:
    """The public names `Store` and its base `Database` define (methods and properties)."""
    found = set()
    for path, cls in (("db/store.py", "Store"), ("db/database.py", "Database")):
        tree = ast.parse((PACKAGE / path).read_text())
        body = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls).body
        found.update(
            node.name
            for node in body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and not node.name.startswith("_")
        )
    return frozenset(found)


def _is_store(node: ast.expr) -> bool:
    """`store`, `self._store`, `state.store`, `store_of(request)`: how the doors name it."""
    if isinstance(node, ast.Name):
        return node.id in ("store", "_store")
    if isinstance(node, ast.Attribute):
        return node.attr in ("store", "_store")
    return isinstance(node, ast.Call) and getattr(node.func, "id", None) == "store_of"


def test_doors_use_the_store_only_through_services() -> None:
    operations = _store_operations()
    used = [
        f"{module.name}:{node.lineno} uses store.{node.attr}: call a service with the store"
        for module in modules().values()
        if module.unit in DOORS | {"cli"}
        for node in ast.walk(ast.parse(module.path.read_text(), str(module.path)))
        if isinstance(node, ast.Attribute)
        and node.attr in operations
        and _is_store(node.value)
        and (module.name, node.attr) not in DOOR_MAY_CALL
    ]
    assert used == []
