"""Every stage's deps in dvc.yaml cover the project code it runs; the code hash follows that code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from harness.sources import ROOT, code_hash, project_files

STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def stage_body(stage: dict) -> dict:
    return stage.get("do", stage)  # foreach stages keep their definition under `do`


def covered(path: Path, deps: list[str]) -> bool:
    """``path`` is a dep or lies in a folder that is one."""
    return any(path.as_posix() == d or path.as_posix().startswith(d.rstrip("/") + "/") for d in deps)


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_deps_list_every_project_file_the_stage_imports(name):
    body = stage_body(STAGES[name])
    scripts = re.findall(r"stages/\w+\.py", body["cmd"])
    assert scripts, f"stage {name} runs no stages/*.py script"
    deps = [d for d in body["deps"] if isinstance(d, str)]
    missing = [str(p) for script in scripts for p in project_files(ROOT / script) if not covered(p, deps)]
    assert not missing, f"dvc.yaml: stage {name} runs but does not declare {missing}"


def test_imports_inside_functions_and_package_inits_are_followed():
    files = {p.as_posix() for p in project_files(ROOT / "stages" / "train.py")}
    assert "harness/models/baseline.py" in files  # through harness/models/__init__.py
    assert {"harness/__init__.py", "harness/data/__init__.py"} <= files
    assert "harness/io.py" in files
    assert "harness/report/render.py" not in files and "harness/train/sweep.py" not in files


def test_the_code_hash_follows_the_imported_files(tmp_path, monkeypatch):
    import harness.sources as sources

    package = tmp_path / "harness"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "used.py").write_text("VALUE = 1\n")
    (package / "unused.py").write_text("VALUE = 2\n")
    entry = tmp_path / "entry.py"
    entry.write_text("def main():\n    from harness.sub import used\n")
    monkeypatch.setattr(sources, "ROOT", tmp_path)
    assert [p.as_posix() for p in project_files(entry)] == [
        "entry.py", "harness/__init__.py", "harness/sub/__init__.py", "harness/sub/used.py"]
    before = code_hash(entry)
    (package / "unused.py").write_text("VALUE = 3\n")
    assert code_hash(entry) == before
    (package / "sub" / "used.py").write_text("VALUE = 4\n")
    assert code_hash(entry) != before
