"""repro-harness: re-run a training write-up as a DVC pipeline and audit its claims."""
