"""Experiments: Hydra compose, sweeps, runs (dvc exp show), ranking, best-under-budget, plots."""
