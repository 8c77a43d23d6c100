"""skhp's modules import only downwards, in a declared order of layers, without circles.

Every ``import`` of an skhp module counts, at the top of a file or inside a
function: a function-local import is no way around a layer. The layers, top
first (``docs/architecture.rst`` draws the same map):
"""

import ast
import pathlib
import re
import sys

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "skhp"

#: Top first. A module may import modules of its own layer or of layers below it.
LAYERS = [
    ("command", ["skhp", "skhp.__main__", "skhp.cli", "skhp.reports"]),
    ("experiment", ["skhp.experiment"]),
    ("test functions", ["skhp.benchmarks", "skhp.benchmarks.*"]),
    ("minimize", ["skhp.optimize"]),
    ("search", ["skhp.search", "skhp.search.*"]),
    ("estimators", ["skhp.estimators", "skhp._fit_specs", "skhp.lottery", "skhp.stabilize"]),
    ("packs", ["skhp.packed", "skhp.packed.*"]),
    ("fit", ["skhp.fit_spec", "skhp._training", "skhp._routing", "skhp.lr_find",
             "skhp.initializers", "skhp.models", "skhp.hyperparameters", "skhp._targets",
             "skhp._inputs"]),
    ("parts", ["skhp.schedules", "skhp.callbacks", "skhp.runtime", "skhp.storage",
               "skhp.trials", "skhp._rows"]),
    ("base", ["skhp._tensorflow", "skhp._validation", "skhp._sklearn", "skhp._parameter_docs"]),
]


def _module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules():
    return {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _layer_of(module):
    for depth, (_, patterns) in enumerate(LAYERS):
        for pattern in patterns:
            if module == pattern or (pattern.endswith(".*") and module.startswith(pattern[:-1])):
                return depth
    raise AssertionError(f"{module} is in no declared layer: add it to LAYERS (and to "
                         "docs/architecture.rst)")


def _imports(module, path, modules):
    """The skhp modules ``module`` imports (top-level and function-local)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            # ``from skhp.packed import plan`` imports skhp.packed; ``from skhp import lr_find``
            # imports the module skhp.lr_find only where that is a module
            names = [f"{origin}.{a.name}" if f"{origin}.{a.name}" in modules and origin != "skhp"
                     else origin for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in modules:  # a submodule's attribute: its module
                name = name.rpartition(".")[0]
            if name.startswith("skhp") and name != module:
                found.add(name)
    return found


def _graph():
    modules = _modules()
    return {module: _imports(module, path, modules) for module, path in modules.items()}


def test_every_module_has_a_layer():
    for module in _modules():
        _layer_of(module)


def test_imports_point_down():
    upward = []
    for module, targets in sorted(_graph().items()):
        for target in sorted(targets):
            if module != "skhp" and _layer_of(target) < _layer_of(module):
                upward.append(f"{module} ({LAYERS[_layer_of(module)][0]}) imports {target} "
                              f"({LAYERS[_layer_of(target)][0]})")
    assert not upward, "imports that point up:\n" + "\n".join(upward)


def test_no_import_circle():
    graph = _graph()
    graph["skhp"] = set()  # the package's lazy names import on first use (see skhp/__init__)
    circles, state = [], {}

    def visit(module, path):
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                circles.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not circles, "import circles:\n" + "\n".join(circles)


def test_the_test_finds_an_upward_import(tmp_path, monkeypatch):
    """The check reads function-local imports too (a test that cannot fail is a defect)."""
    fake = tmp_path / "skhp"
    (fake / "packed").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "estimators.py").write_text("")
    (fake / "packed" / "__init__.py").write_text("def f():\n    from skhp.estimators import X\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    with pytest.raises(AssertionError, match=re.escape("skhp.packed (packs) imports skhp.estimators")):
        test_imports_point_down()


def test_scikit_learn_private_names_only_in_adapters():
    """``sklearn`` names starting with ``_`` are read only in modules named ``_sklearn*.py``."""
    private = re.compile(r"\bfrom\s+sklearn[\w.]*\s+import\s+\(?[^)\n]*\b_\w+|"
                         r"\bsklearn(?:\.\w+)*\._\w+|"
                         r"\._(?:get_scorers|format_results|get_routed_params_for_fit)\b")
    found = []
    for path in PACKAGE.rglob("*.py"):
        if path.name.startswith("_sklearn"):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if private.search(line.split("#")[0]):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()}")
    assert not found, "scikit-learn private names outside the adapters:\n" + "\n".join(found)
