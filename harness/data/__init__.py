"""Data: sources (synthetic, Kaggle frames, videos), the frame index, windows, clip datasets and transforms.

The data layer knows no model: it imports no other room (models, train, scoring, leakage, judge, report, bench,
runtime), only the shared top-level modules (config, errors, io)."""
