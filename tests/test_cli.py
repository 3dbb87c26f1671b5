"""Every stage script runs through run_stage: one sentence for user errors, and a stage whose code changed
while it ran fails instead of looking finished."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import harness.cli as cli
from harness.errors import HarnessError


def run(monkeypatch, main, hashes):
    monkeypatch.setattr(sys, "argv", [cli.__file__])  # any project .py file stands for the stage script
    values = iter(hashes)
    monkeypatch.setattr(cli, "code_hash", lambda path: next(values))
    with pytest.raises(SystemExit) as stopped:
        cli.run_stage("demo", main)
    return stopped.value.code


def test_an_edit_to_the_code_while_the_stage_ran_fails_it(monkeypatch, capsys):
    assert run(monkeypatch, lambda: None, ["aaa", "bbb"]) == 2
    assert f"demo: error: {cli.CODE_CHANGED}" in capsys.readouterr().err


def test_unchanged_code_finishes_and_user_errors_are_one_sentence(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [cli.__file__])
    monkeypatch.setattr(cli, "code_hash", lambda path: "same")
    cli.run_stage("demo", lambda: None)  # no exit
    assert capsys.readouterr().err == ""

    def broken():
        raise HarnessError("params.yaml: x = 1 is wrong")

    assert run(monkeypatch, broken, ["same", "same"]) == 2
    assert capsys.readouterr().err.strip() == "demo: error: params.yaml: x = 1 is wrong"


def test_the_real_code_hash_is_taken_of_the_stage_script(monkeypatch):
    seen = []
    monkeypatch.setattr(sys, "argv", [cli.__file__])
    monkeypatch.setattr(cli, "code_hash", lambda path: seen.append(path) or "h")
    cli.run_stage("demo", lambda: None)
    assert seen == [Path(cli.__file__).resolve()] * 2


def test_a_stage_of_another_checkout_stops_with_one_sentence(tmp_path):
    """A second checkout run with the first checkout's environment: its stage script imports the first's harness.
    The stage stops at once, naming both, instead of a traceback from deep inside the code-hash check."""
    import shutil
    import subprocess

    other = tmp_path / "other-checkout"
    (other / "stages").mkdir(parents=True)
    shutil.copy(Path(cli.__file__).resolve().parents[1] / "stages" / "sweeps.py", other / "stages" / "sweeps.py")
    done = subprocess.run([sys.executable, str(other / "stages" / "sweeps.py"), "--results", str(tmp_path), "--table",
                           str(tmp_path / "t.csv"), "--metrics", str(tmp_path / "m.json")],
                          capture_output=True, text=True, timeout=120, cwd=other)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sweeps: error: ") and "Traceback" not in done.stderr
    assert str(other) in lines[0] and "make setup" in lines[0]
    assert not (tmp_path / "t.csv").exists()  # nothing ran
