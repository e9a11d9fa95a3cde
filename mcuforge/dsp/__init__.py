"""DSP feature blocks computed with CMSIS-DSP's Python API (the C twin calls the same functions)."""
from mcuforge.dsp.spectral import (
    STAT_IDS,
    SpectralPlan,
    feature_names,
    make_spectral_plan,
    plan_constants,
    spectral_features,
    spectral_features_batch,
)

__all__ = ["STAT_IDS", "SpectralPlan", "feature_names", "make_spectral_plan", "plan_constants",
           "spectral_features", "spectral_features_batch"]
