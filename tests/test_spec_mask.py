"""SpecAugment-style masks on the augmented train copies (mcuforge/data/spec_mask.py)."""
import numpy as np
import pytest

from mcuforge.data.spec_mask import mask_augmented
from mcuforge.errors import McuforgeError

CFG = {"spec_time_masks": 2, "spec_time_width": 8, "spec_freq_masks": 1, "spec_freq_width": 3, "seed": 0}


def maps(n=40, seed=1):
    return np.random.default_rng(seed).normal(size=(n, 61, 10)).astype(np.float32) + 5.0  # no zeros


def test_masks_only_augmented_rows_with_bounded_zero_runs_deterministically():
    x, augmented = maps(), np.arange(40) >= 20
    out = mask_augmented(x, augmented, CFG)
    np.testing.assert_array_equal(out[:20], x[:20])            # recorded clips untouched
    np.testing.assert_array_equal(out, mask_augmented(x, augmented, CFG))
    np.testing.assert_array_equal(x, maps())                   # input not modified
    zeros = out[20:] == 0
    assert zeros.any() and np.all(out[20:][~zeros] == x[20:][~zeros])
    full_frames, full_coeffs = zeros.all(axis=2), zeros.all(axis=1)
    # every zero lies in a masked frame or a masked coefficient; at most 2 x 8 frames, 3 coefficients
    assert np.all(zeros == (full_frames[:, :, None] | full_coeffs[:, None, :]))
    assert full_coeffs.sum(axis=1).max() <= 3 and (full_frames.sum(axis=1) - 61 * full_coeffs.all(axis=1)).max() <= 16


def test_zero_masks_change_nothing_and_bad_settings_name_the_key():
    x = maps(4)
    assert mask_augmented(x, np.ones(4, bool), {**CFG, "spec_time_masks": 0, "spec_freq_masks": 0}) is x
    with pytest.raises(McuforgeError, match=r"augment\.spec_time_width=-1"):
        mask_augmented(x, np.ones(4, bool), {**CFG, "spec_time_width": -1})
    with pytest.raises(McuforgeError, match="frames, coefficients"):
        mask_augmented(x.reshape(4, -1), np.ones(4, bool), CFG)
