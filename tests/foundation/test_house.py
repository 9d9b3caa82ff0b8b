"""The shape of the house, read from the source: no import cycle, the worker on the roof, honest imports."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOT_APPLICATION = {"tests", "bench", "migrations", "translations", "instance", "static", "templates", "docs"}
AREAS = (
    "accounts",
    "producers",
    "shop",
    "orders",
    "units",
    "fulfilment",
    "dashboard",
    "notifications",
    "claims",
    "earnings",
    "cadres",
)
# Above every area: the app factory, the worker, and the entries that build an app.
ROOF = {"app", "wsgi", "make_celery", "worker", "demo"}


def application_modules() -> dict[str, Path]:
    modules = {}
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in NOT_APPLICATION or relative.parts[0].startswith("."):
            continue
        name = ".".join(relative.with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    return modules


MODULES = application_modules()


def _resolve(name):
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in MODULES:
            return candidate
    return None


def imports(module) -> list[tuple[str, ast.stmt, bool]]:
    """(imported project module, the statement, whether it sits inside a function) for every import of ``module``."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            names = []
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    package = module.split(".") if MODULES[module].name == "__init__.py" else module.split(".")[:-1]
                    package = package[: len(package) - child.level + 1]
                    base = ".".join(package + ([base] if base else []))
                names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in child.names]
            for name in names:
                target = _resolve(name)
                if target and target != module:
                    found.append((target, child, in_function))
            visit(child, inner)

    visit(tree, False)
    return found


def import_graph() -> dict[str, set[str]]:
    """Every import, function-level ones included, except those inside the app factory (it imports every blueprint)."""
    return {
        module: {target for target, _node, in_function in imports(module) if not (module == "app" and in_function)}
        for module in MODULES
    }


def cycles(graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def strong(module):
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in graph[module]:
            if target not in index:
                strong(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in graph:
        if module not in index:
            strong(module)
    return found


def _top(module):
    return module.split(".")[0]


def test_no_import_cycle_counting_function_level_imports():
    assert cycles(import_graph()) == []


def test_the_graph_sees_imports_inside_functions():
    graph = {"a": {"b"}, "b": {"a"}, "c": set()}
    assert cycles(graph) == [["a", "b"]]
    targets = {target for target, _node, in_function in imports("app") if in_function}
    assert "accounts.routes" in targets  # the factory's register_blueprints imports every blueprint inside a function


def test_nothing_below_the_roof_imports_the_worker_or_the_app():
    offenders = sorted(
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        if _top(module) not in ROOF
        for target in targets
        if _top(target) in ROOF
    )
    assert offenders == []


def test_every_area_exists_as_a_package_with_its_tests_and_templates():
    for area in AREAS:
        assert (ROOT / area / "__init__.py").exists(), area
        assert (ROOT / "tests" / area).is_dir(), area
    for area in ("accounts", "producers", "shop", "orders", "units", "fulfilment", "dashboard", "notifications"):
        assert (ROOT / "templates" / area).is_dir(), area


def test_a_function_level_import_names_the_cycle_it_avoids():
    unexplained = []
    for module, path in MODULES.items():
        if module == "app":
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        for _target, node, in_function in imports(module):
            if not in_function:
                continue
            nearby = " ".join(lines[max(node.lineno - 2, 0) : node.end_lineno]).lower()
            if "cycle" not in nearby:
                unexplained.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert unexplained == []


def test_no_application_module_over_400_lines():
    long = sorted(
        f"{path.relative_to(ROOT)}: {count}"
        for path in MODULES.values()
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > 400
    )
    assert long == []
