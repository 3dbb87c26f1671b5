"""Training: the loop and its state, losses, the optimiser step and schedule, what a run is built from (run setup,
its spec), checkpoints, the shuffled-label control, seed sweeps. Imports models, data and the runtime; never the
judging of the write-up (harness.judge) or the report.
"""
