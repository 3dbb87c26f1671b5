"""Judging the write-up: the claims registry and its rules, printed figures as intervals, the joint feasibility of
the evaluation figures, the coverage scan, the verdicts, the overlap its split implies. Reads metric files; builds no
model and imports no torch-based room (models, train, runtime, scoring, bench).
"""
