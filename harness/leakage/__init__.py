"""The leakage evidence: split strategies and their manifests, the model-free evidence (shared windows, near-duplicate
frames against chance, exact duplicates), the nearest-neighbour search behind it, the memorisation probe and the gallery
of leaking pairs. Reads the frame index and the windows; trains nothing, so it imports no model (harness.models), no
training loop (harness.train) and no report.
"""
