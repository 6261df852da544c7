"""The package's layers: imports point one way, with no cycles anywhere.

Every import is counted, including those inside functions (the lazy ones
that keep TensorFlow out of ``import sklearn_elmo``), so a cycle cannot hide
behind a deferred import.
"""

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sklearn_elmo"

# Each layer and the layers it may import (itself included). Top-level
# utility modules (config, paths, progress, validation, tokenizer,
# exceptions...) are the base every layer may use.
ALLOWED = {
    "utils": {"utils"},
    "bilm": {"utils", "bilm"},
    "testing": {"utils", "bilm"},
    "training": {"utils", "bilm", "training"},
    "features": {"utils", "bilm", "features"},
    "head": {"utils", "bilm", "features", "head"},
    "estimators": {"utils", "bilm", "features", "head", "estimators"},
    "persistence": {"utils", "bilm", "features", "head", "estimators", "persistence"},
    "top": None,  # cli, demo: anything
}
TOP = {"cli", "demo", "__main__"}
SUBPACKAGES = {"bilm", "training", "features", "head", "estimators", "cli"}
PERSISTENCE = {"persistence", "_archive", "_skops", "dask"}


def _module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _layer(module):
    parts = module.split(".")
    if len(parts) == 1:
        return None  # the package's __init__: the public facade
    head = parts[1]
    if head in SUBPACKAGES:
        return "top" if head == "cli" else head
    if head in TOP:
        return "top"
    if head in PERSISTENCE:
        return "persistence"
    if head == "testing":
        return "testing"
    return "utils"


def _imports(path, module):
    """Every sklearn_elmo module ``path`` imports, at any depth of the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(
                a.name for a in node.names if a.name.startswith("sklearn_elmo")
            )
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("sklearn_elmo"):
                continue
            modules = {f"{target}.{a.name}" for a in node.names}
            modules = {m for m in modules if _exists(m)}
            found.update(modules)  # "from .. import tokenize" imports a module
            if len(modules) < len(node.names) or not _exists(target):
                found.add(target)
    missing = {name for name in found if not _exists(name)}
    assert not missing, f"{module} imports modules that do not exist: {missing}"
    return found


def _exists(module):
    path = PACKAGE.parent.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _graph():
    graph = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        graph[module] = _imports(path, module) - {module}
    return graph


def test_imports_point_down_the_layers():
    wrong = []
    for module, targets in _graph().items():
        layer = _layer(module)
        if layer is None or ALLOWED[layer] is None:
            continue
        for target in targets:
            if target == "sklearn_elmo":
                wrong.append(f"{module} imports the package facade")
            elif _layer(target) not in ALLOWED[layer]:
                wrong.append(f"{module} ({layer}) imports {target} ({_layer(target)})")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_cycles():
    graph = _graph()
    # A package's __init__ re-exports its modules: an edge module -> its own
    # package is the facade, not a dependency, so it is left out.
    edges = {
        m: {t for t in ts if not (m.startswith(t + ".") and t != "sklearn_elmo")}
        for m, ts in graph.items()
    }
    edges = {m: {t for t in ts if t != "sklearn_elmo"} for m, ts in edges.items()}
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "active"
        for target in sorted(edges.get(node, ())):
            if state.get(target) == "active":
                cycles.append(" -> ".join(stack[stack.index(target) :] + [target]))
            elif target not in state:
                visit(target, stack + [target])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert not cycles, "\n".join(cycles)


def test_no_module_is_too_long():
    long = {
        _module_name(p): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 450
    }
    assert not long, long


def _run(code):
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_import_sklearn_elmo_loads_no_tensorflow():
    loaded = _run(
        """
        import sys
        import sklearn_elmo
        print("tensorflow" in sys.modules, "keras" in sys.modules)
        """
    )
    assert loaded == ["False", "False"]


@pytest.mark.parametrize("pooling", ["mean", "max"])
def test_vectorizer_without_y_never_loads_the_keras_head(tiny_model, pooling):
    # TensorFlow itself imports the keras package when the engine loads; what
    # must not load is the package's own Keras network (head._keras and the
    # modules built on it).
    loaded = _run(
        f"""
        import sys
        from sklearn_elmo import ElmoVectorizer
        X = ["The cat sat .", "Hello world !"]
        ElmoVectorizer({str(tiny_model)!r}, pooling={pooling!r}).fit(X).transform(X)
        print(sorted(m for m in sys.modules if m.startswith("sklearn_elmo.head.")))
        """
    )
    assert loaded == ["['sklearn_elmo.head._mix',", "'sklearn_elmo.head._spec']"]
