"""The package's rooms: at most 8 modules at harness/'s top, no import loop between modules, no import across a
forbidden boundary (each room's __init__ docstring says why), and a mirror under tests/ for every room."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest

from harness.sources import ROOT, _imported_modules

PACKAGE = ROOT / "harness"
# room -> the rooms it must never import (lazily or not): what each room's docstring promises
FORBIDDEN = {
    "data": {"models", "train", "scoring", "leakage", "judge", "report", "bench", "runtime"},
    "models": {"data", "train", "scoring", "leakage", "judge", "report", "bench", "runtime"},
    "runtime": {"models", "train", "scoring", "leakage", "judge", "report", "bench"},
    "leakage": {"models", "train", "judge", "report", "bench"},
    "scoring": {"train", "judge", "report", "bench"},
    "train": {"judge", "report", "bench"},
    "judge": {"models", "train", "runtime", "scoring", "leakage", "bench", "report"},  # data: its window arithmetic
    "report": {"models", "train", "scoring", "bench", "leakage", "data"},
    "bench": {"judge", "report", "leakage"},
}
TOP = {"__init__", "config", "cli", "errors", "io", "sources"}  # shared by every room; they import no room
# crossings with a reason: gpu-check writes its results in the format the report reads (one torch-free module)
ALLOWED = {("harness.bench.gpu_check", "harness.report"), ("harness.bench.gpu_check", "harness.report.gpu_results")}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> nx.DiGraph:
    graph = nx.DiGraph()
    for path in PACKAGE.rglob("*.py"):
        name = module_name(path)
        graph.add_node(name)
        for imported in _imported_modules(path):
            if imported != name and imported.count(".") >= 1 and not name.startswith(imported + "."):
                graph.add_edge(name, imported)
    return graph


def room_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "harness"


def test_at_most_eight_modules_stay_at_the_top():
    top = {p.stem for p in PACKAGE.glob("*.py")}
    assert len(top) <= 8 and top <= TOP, sorted(top - TOP)


def test_no_module_imports_itself_back():
    graph = import_graph()
    # a package's __init__ importing its own modules is how a registry is built, not a loop between modules
    modules = graph.subgraph(n for n in graph if (PACKAGE / (n.replace("harness.", "", 1).replace(".", "/") + ".py")).is_file())
    cycles = list(nx.simple_cycles(modules))
    assert not cycles, f"import loops: {cycles}"


def test_no_room_imports_across_a_forbidden_boundary():
    crossings = [(a, b) for a, b in import_graph().edges
                 if room_of(b) in FORBIDDEN.get(room_of(a), set()) and (a, b) not in ALLOWED]
    assert not crossings, f"imports across a room's boundary: {crossings}"
    top_imports_rooms = [(a, b) for a, b in import_graph().edges
                         if room_of(a) in TOP and room_of(b) not in TOP | {"harness", "conf"}]
    assert not top_imports_rooms, top_imports_rooms


@pytest.mark.parametrize("room", sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()))
def test_every_room_says_what_it_is_for_and_has_its_mirror_under_tests(room):
    doc = (PACKAGE / room / "__init__.py").read_text()
    assert doc.startswith('"""') and len(doc) > 80, f"harness/{room}/__init__.py needs a docstring saying what the room is for"
    assert list((ROOT / "tests" / room).glob("test_*.py")), f"tests/{room}/ is missing"


def test_a_planted_loop_and_a_planted_crossing_are_caught():
    """The checks above can fail: a judge module importing a model, and two modules importing each other."""
    graph = import_graph()
    graph.add_edge("harness.judge.claims", "harness.models.baseline")
    assert any(room_of(b) in FORBIDDEN.get(room_of(a), set()) for a, b in graph.edges)
    graph.add_edge("harness.train.losses", "harness.train.loop")
    graph.add_edge("harness.train.loop", "harness.train.losses")
    assert list(nx.simple_cycles(graph.subgraph(["harness.train.loop", "harness.train.losses"])))
