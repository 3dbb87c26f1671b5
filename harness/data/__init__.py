"""Data: sources (synthetic, Kaggle frames, videos), the frame index, windows, clip datasets."""
