"""Layout: the domain (notes/ outside notes/api/) never imports the HTTP layer, notes.api.

Whatever both use (the metrics' route labels, say) lives below both, in the
domain or in notes_project.
"""

import ast
from pathlib import Path

import pytest

NOTES = Path(__file__).resolve().parents[1]
HTTP_LAYER = "notes.api"


def domain_modules():
    """Every module of notes/ but the HTTP layer's and the tests'."""
    return [
        path
        for path in sorted(NOTES.rglob("*.py"))
        if path.relative_to(NOTES).parts[0] not in ("api", "tests")
    ]


def imported_names(source, module):
    """Every module a source imports, and every name it imports from one, in full."""
    package = module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            origin = ".".join([*base, *filter(None, [node.module])])
            yield origin
            yield from (f"{origin}.{alias.name}" for alias in node.names)


def from_the_http_layer(name):
    return name == HTTP_LAYER or name.startswith(f"{HTTP_LAYER}.")


@pytest.mark.parametrize(
    ("source", "module"),
    [
        ("import notes.api.metrics", "notes.logins"),
        ("from notes.api.metrics import route_label", "notes.logins"),
        ("from notes import api", "notes.logins"),
        ("from .api import views", "notes.admin"),
        ("from ..api.errors import error_envelope", "notes.tokens.admin"),
    ],
)
def test_the_scan_sees_every_form_of_import(source, module):
    assert any(from_the_http_layer(name) for name in imported_names(source, module))


def test_the_domain_imports_nothing_of_the_http_layer():
    modules = domain_modules()
    offending = {
        str(path.relative_to(NOTES.parent)): name
        for path in modules
        for name in imported_names(
            path.read_text(), ".".join(path.relative_to(NOTES.parent).with_suffix("").parts)
        )
        if from_the_http_layer(name)
    }

    assert len(modules) > 20  # the scan reads the domain, not an empty list
    assert offending == {}
