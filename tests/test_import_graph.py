"""No import circles in the package, and logic never imports the wiring.

The graph is built with ``ast`` from every ``import`` in ``fiscal_intel`` — those inside functions
too, since a lazy import that closes a circle still ties the two modules together (it only moves
the failure from import time to call time). ``if TYPE_CHECKING:`` imports are left out: they never
run.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "fiscal_intel"
# The modules that wire the product together: the Dagster code location, the commands and the
# runners that materialise it. Everything else is logic and must not import these.
WIRING = {
    "fiscal_intel.definitions",
    "fiscal_intel.cli",
    "fiscal_intel.runner",
    "fiscal_intel.department.runner",
    "fiscal_intel.department.distributed",
    # the department's code location, whose assets run municipalities (issue #19), and its
    # sensor, which asks for their runs in order (it reads which first runs are built)
    "fiscal_intel.department.assets",
    "fiscal_intel.department.definitions",
    "fiscal_intel.department.sensors",
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement that can run: all but those under ``if TYPE_CHECKING``."""
    found, stack = [], [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return found


def import_graph() -> dict[str, dict[str, list[str]]]:
    """module -> {imported fiscal_intel module -> names taken from it}."""
    modules = _modules()
    graph: dict[str, dict[str, list[str]]] = {m: {} for m in modules}
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in modules:
                        graph[module].setdefault(alias.name, [])
                continue
            base = node.module or ""
            if node.level:  # relative: from the package, one level up per extra dot
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*up, base] if base else up)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in modules:  # `from fiscal_intel import instance`: the submodule
                    graph[module].setdefault(sub, [])
                elif base in modules:
                    graph[module].setdefault(base, []).append(alias.name)
    return graph


def find_cycle(graph: dict[str, dict[str, list[str]]]) -> list[str] | None:
    """One circle of imports as a path (first module repeated at the end), or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target):], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_graph_sees_module_level_and_function_level_imports() -> None:
    graph = import_graph()
    # module level (sensors needs the run log), inside a function (the CLI's runner)
    assert "fiscal_intel.run_log" in graph["fiscal_intel.sensors"]
    assert "fiscal_intel.runner" in graph["fiscal_intel.cli"]
    assert "fiscal_intel.definitions" in graph["fiscal_intel.runner"]
    # and the cycle finder finds one when there is one
    assert find_cycle({"a": {"b": []}, "b": {"c": []}, "c": {"a": []}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": []}, "b": {}}) is None


def test_no_import_circles_in_the_package() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_logic_never_imports_the_wiring() -> None:
    offending = [
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        if module not in WIRING
        for target in targets
        if target in WIRING
    ]
    assert offending == []


def test_no_module_imports_another_modules_private_names() -> None:
    """A name with a leading underscore is its module's own business (sensors once read the
    runner's ``_failure_reason``): what two modules share gets a public name."""
    offending = [
        f"{module} takes {name} from {target}"
        for module, targets in import_graph().items()
        for target, names in targets.items()
        for name in names
        if name.startswith("_") and target != module
    ]
    assert offending == []


def test_sensors_and_scoring_stay_off_the_runner_and_the_code_location() -> None:
    graph = import_graph()
    assert not WIRING & set(graph["fiscal_intel.sensors"])
    assert not WIRING & set(graph["fiscal_intel.scoring.evaluation"])
