"""The project files a script runs, and one hash of them: what ties a result to the code that made it.

``project_files`` follows every ``import harness...`` of a file (at module level and inside functions,
since stages import lazily) through the package, with the ``__init__.py`` of every package on the way
(importing ``harness.models.baseline`` runs ``harness/models/__init__.py`` too). The train stage puts
``code_hash`` of its script into the run fingerprint, so a checkpoint of other code is never resumed;
a test checks that each stage's ``deps`` in dvc.yaml list every file ``project_files`` finds, so DVC
re-runs a stage whenever code it runs changes.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

PACKAGE = "harness"
PACKAGE_DIR = Path(__file__).resolve().parent
ROOT = PACKAGE_DIR.parent


def _module_file(module: str) -> Path | None:
    """The file of a dotted module name inside the package (None for a name that is not a module)."""
    path = ROOT.joinpath(*module.split("."))
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    return None


def _imported_modules(path: Path) -> set[str]:
    """Dotted names of the package's modules that ``path`` imports, with their parent packages."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            # `from harness.data import windows` imports the module harness.data.windows
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    modules = set()
    for name in names:
        parts = name.split(".")
        if parts[0] != PACKAGE:
            continue
        modules.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return {m for m in modules if _module_file(m) is not None}


def project_files(entry: str | Path) -> list[Path]:
    """``entry`` and every package file it imports, directly or not; sorted paths relative to the
    repository root."""
    entry = Path(entry).resolve()
    seen, todo = {entry}, [entry]
    while todo:
        for module in _imported_modules(todo.pop()):
            path = _module_file(module)
            if path not in seen:
                seen.add(path)
                todo.append(path)
    return sorted(p.relative_to(ROOT) for p in seen)


def code_hash(entry: str | Path) -> str:
    """A hash of the bytes of ``project_files(entry)`` and their names."""
    digest = hashlib.sha256()
    for rel in project_files(entry):
        digest.update(rel.as_posix().encode() + b"\0")
        digest.update((ROOT / rel).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


if __name__ == "__main__":  # python -m harness.sources stages/x.py: the deps that stage must declare
    import sys

    for script in sys.argv[1:]:
        print("\n".join(f"- {p.as_posix()}" for p in project_files(script)))
