"""What every stage script shares: logging, one sentence instead of a traceback for user errors, and a refusal
to let a stage whose code changed while it ran look finished."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path

from harness.errors import HarnessError
from harness.sources import ROOT, code_hash

log = logging.getLogger("harness")

CODE_CHANGED = ("a file this stage runs was edited while it ran, so its outputs came from other code than "
                "dvc.lock would record; run it again")


def same_checkout(script: Path) -> None:
    """A stage script of one checkout run with another checkout's environment imports that checkout's harness
    (its editable install): its code, not this one's, would run. Stop with one sentence instead."""
    if script.suffix == ".py" and script.parent.name == "stages" and script.parent.parent != ROOT:
        raise HarnessError(f"{script} belongs to the checkout {script.parent.parent}, but Python imported harness from "
                           f"{ROOT / 'harness'} (the environment of another checkout); run `make setup` in "
                           f"{script.parent.parent} and use its .venv (`source .venv/bin/activate`, then `dvc repro`)")


def run_stage(name: str, main: Callable[[], None]) -> None:
    """Run a stage's ``main``; a HarnessError becomes ``<stage>: error: <sentence>`` and exit code 2.

    DVC hashes a stage's deps when the stage ends, so a dependency edited while the stage ran would be recorded
    as the code that produced its outputs. The stage script's code hash (it and every project file it imports) is
    taken before and after ``main``; when they differ the stage fails, DVC keeps no record of it, and the next
    ``dvc repro`` runs it again with the code as it is."""
    logging.basicConfig(level=logging.INFO, format=f"{name}: %(message)s", stream=sys.stderr)
    script = Path(sys.argv[0]).resolve()
    try:
        same_checkout(script)
        before = code_hash(script) if script.suffix == ".py" and script.is_file() else None
        main()
        if before is not None and code_hash(script) != before:
            raise HarnessError(CODE_CHANGED)
    except HarnessError as e:
        print(f"{name}: error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(f"{name}: interrupted; outputs already complete are kept, nothing half-written is", file=sys.stderr)
        sys.exit(130)
