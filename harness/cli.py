"""What every stage script shares: logging, and one sentence instead of a traceback for user errors."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from harness.errors import HarnessError

log = logging.getLogger("harness")


def run_stage(name: str, main: Callable[[], None]) -> None:
    """Run a stage's ``main``; a HarnessError becomes ``<stage>: error: <sentence>`` and exit code 2."""
    logging.basicConfig(level=logging.INFO, format=f"{name}: %(message)s", stream=sys.stderr)
    try:
        main()
    except HarnessError as e:
        print(f"{name}: error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(f"{name}: interrupted; outputs already complete are kept, nothing half-written is", file=sys.stderr)
        sys.exit(130)
