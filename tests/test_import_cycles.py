"""No import circles among our packages: a module that imports itself back, however far round,
runs half-initialised depending on which side a caller imports first."""

from __future__ import annotations

import grimp

PACKAGES = ("classifier", "serving", "training", "data", "integrations")


def import_cycles(*packages: str) -> list[tuple[str, str]]:
    """Every direct import A -> B for which B also reaches A (each circle shows up on its edges)."""
    graph = grimp.build_graph(*packages, exclude_type_checking_imports=True, cache_dir=None)
    return sorted(
        (module, imported)
        for module in graph.modules
        for imported in graph.find_modules_directly_imported_by(module)
        if graph.chain_exists(importer=imported, imported=module)
    )


def test_no_import_cycles() -> None:
    cycles = import_cycles(*PACKAGES)
    assert not cycles, "import circles (break each by moving the shared code down a layer):\n" + (
        "\n".join(f"  {a} -> {b} -> ... -> {a}" for a, b in cycles)
    )


def test_the_check_sees_a_cycle(tmp_path, monkeypatch) -> None:
    pkg = tmp_path / "circular"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from circular import b\n")
    (pkg / "b.py").write_text("def f():\n    from circular import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_cycles("circular") == [("circular.a", "circular.b"), ("circular.b", "circular.a")]
