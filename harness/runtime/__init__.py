"""The shared runtime: seeds, determinism and the environment record (runinfo), numeric precision, data-parallel
processes, data loaders. Imports the data layer only; no model, no training loop, no judging.
"""
