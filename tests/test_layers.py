"""Each layer of cc_segmentation imports only what its __init__ allows.

The imports are checked in a fresh interpreter (``python -c``), where
``sys.modules`` shows everything a layer pulled in, directly or not.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys

import pytest
from conftest import REPO

import cc_segmentation

PACKAGE = "cc_segmentation"
# What each layer must not import; the pipeline layer runs inside every dbt
# build, so it carries neither the apps' libraries nor the other layers.
FORBIDDEN = {
    "segmentation": ["apps", "publishing", "data", "streamlit", "matplotlib"],
    "data": ["segmentation", "publishing", "apps", "streamlit", "matplotlib"],
    "publishing": ["segmentation", "apps", "data", "streamlit", "matplotlib"],
    "apps": ["segmentation", "publishing", "data"],
}
# Run when imported (a Streamlit script, ``python -m`` entry points), so not
# imported here.
SCRIPTS = {"cc_segmentation.apps.dashboard"}
LOAD = (
    "import importlib, json, sys\n"
    "for name in sys.argv[1:]:\n"
    "    importlib.import_module(name)\n"
    "print(json.dumps(sorted(sys.modules)))\n"
)


def modules_loaded_by(*modules: str) -> list[str]:
    """Every module in ``sys.modules`` after a fresh interpreter imports these."""
    done = subprocess.run(
        [sys.executable, "-c", LOAD, *modules],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def layer_modules(layer: str) -> list[str]:
    path = [str(cc_segmentation.__path__[0] + "/" + layer)]
    return sorted(
        f"{PACKAGE}.{layer}.{module.name}"
        for module in pkgutil.iter_modules(path)
        if f"{PACKAGE}.{layer}.{module.name}" not in SCRIPTS
    )


def is_within(module: str, name: str) -> bool:
    return module == name or module.startswith(name + ".")


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_it_must_not(layer):
    modules = layer_modules(layer)
    assert modules, layer
    forbidden = [
        name if name in ("streamlit", "matplotlib") else f"{PACKAGE}.{name}"
        for name in FORBIDDEN[layer]
    ]
    loaded = modules_loaded_by(*modules)
    assert set(modules) <= set(loaded)
    assert [m for m in loaded if any(is_within(m, f) for f in forbidden)] == []


def test_the_pipeline_layer_has_the_eight_pipeline_modules():
    assert [m.rsplit(".", 1)[1] for m in layer_modules("segmentation")] == [
        "core_samples",
        "identity",
        "kmeans",
        "outliers",
        "personas",
        "projection",
        "selection",
        "warehouse",
    ]


def test_the_package_root_imports_no_layer():
    loaded = modules_loaded_by(PACKAGE)
    layers = [f"{PACKAGE}.{layer}" for layer in FORBIDDEN]
    assert [m for m in loaded if any(is_within(m, layer) for layer in layers)] == []


def imported_names(source: str) -> list[str]:
    """``cc_segmentation...`` modules and names a Python file imports."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return [name for name in names if is_within(name, PACKAGE)]


def test_the_dbt_python_models_import_only_the_pipeline_layer_and_the_lock():
    models = sorted((REPO / "dbt_project" / "models").rglob("*.py"))
    assert models
    for model in models:
        names = imported_names(model.read_text())
        assert names, model
        allowed = [
            name
            for name in names
            if name == f"{PACKAGE}.import_lock"
            or is_within(name, f"{PACKAGE}.segmentation")
        ]
        assert names == allowed, model.name
