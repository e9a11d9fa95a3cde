"""Data: ingest sources, grouped split, windowing, augmentation, normalisation."""
