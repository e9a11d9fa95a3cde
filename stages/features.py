"""features: split table → windows → DSP block → standardised model inputs per split.

Writes data/features/{train,val,test}.npz (x, y, raw windows, recording, subject),
data/features/normalization.json (fitted on train only) and reports/features.json.
"""
from __future__ import annotations

import pandas as pd

from mcuforge import atomic
from mcuforge.arrays import load_arrays, save_arrays
from mcuforge.data.augment import augment_split, channel_groups
from mcuforge.data.kws_augment import augment_audio_split
from mcuforge.data.kws_balance import balance_split, class_mix, is_kws
from mcuforge.errors import McuforgeError, stage_main
from mcuforge.dsp.feature_blocks import block_feature_names, compute_block
from mcuforge.data.normalization import fit_standardizer, standardize
from mcuforge.data.spec_mask import mask_augmented
from mcuforge.params import load_params
from mcuforge.data.windowing import make_windows, samples_per

SPLITS = ("train", "val", "test")


@stage_main
def main() -> None:
    params = load_params()
    dataset, cfg = params["dataset"], params["features"]
    rate = dataset["sample_rate_hz"]
    window = samples_per(cfg["window_ms"], rate, "window_ms")
    stride = samples_per(cfg["stride_ms"], rate, "stride_ms")
    table = pd.read_parquet("data/split.parquet")

    per_split = {}
    for split in SPLITS:
        part = table[table["split"] == split]
        per_split[split] = make_windows(part, dataset["channels"], dataset["labels"], window, stride)
        if len(per_split[split]["y"]) == 0:
            raise McuforgeError(f"no {window}-sample window fits in the {split} split: lower "
                                f"features.window_ms={cfg['window_ms']}")
    mix = None
    if is_kws(dataset):   # keyword spotting: silence/unknown shares per split, audio augmentation
        noise = load_arrays("data/noise.npz")
        per_split = {split: balance_split(a, dataset, noise, split) for split, a in per_split.items()}
        mix = class_mix(per_split, dataset["labels"])
        per_split["train"] = augment_audio_split(per_split["train"], noise, params["augment"], rate)
    else:
        groups = channel_groups(dataset["channels"], dataset["vector_groups"])
        per_split["train"] = augment_split(per_split["train"], groups, params["augment"])
    for arrays in per_split.values():
        arrays["x"] = compute_block(arrays["windows"], cfg, rate)

    recorded = ~per_split["train"]["augmented"]
    scaler = fit_standardizer(per_split["train"]["x"][recorded])
    for split, arrays in per_split.items():
        arrays["x"] = standardize(arrays["x"], scaler)
        if split == "train" and is_kws(dataset):
            arrays["x"] = mask_augmented(arrays["x"], arrays["augmented"], params["augment"])
        if split == "train":  # raw train windows are only needed to compute x; keep the cache small
            del arrays["windows"]
        save_arrays(f"data/features/{split}.npz", arrays)

    names = block_feature_names(cfg, rate, dataset["channels"])
    atomic.write_json("data/features/normalization.json", {
        "block": cfg["block"], "feature_names": names, "labels": dataset["labels"],
        "window_samples": window, "stride_samples": stride, "sample_rate_hz": rate,
        "input_shape": list(per_split["train"]["x"].shape[1:]),
        "mean": scaler["mean"].tolist(), "std": scaler["std"].tolist(),
    })
    atomic.write_json("reports/features.json", {
        "windows": {split: int(len(a["y"])) for split, a in per_split.items()},
        "augmented_train_windows": int(per_split["train"]["augmented"].sum()),
        "window_samples": window, "features": len(names),
        "input_shape": list(per_split["train"]["x"].shape[1:]),
        **({"class_mix": mix} if mix else {}),
    })
    counts = ", ".join(f"{split} {len(a['y']):,}" for split, a in per_split.items())
    print(f"features ({cfg['block']}, {window}-sample windows, stride {stride}): {counts} windows "
          f"({int(per_split['train']['augmented'].sum()):,} augmented train copies), "
          f"model input {' x '.join(map(str, per_split['train']['x'].shape[1:]))} -> data/features/")


if __name__ == "__main__":
    main()
