"""Scoring a trained model: batched inference, evaluation of a split's test set, the metrics with intervals over
videos, the auditor's table. Needs no training loop (harness.train) and no report.
"""
