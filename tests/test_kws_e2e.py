"""Keyword spotting end to end on the tiny FSDD slice: `dvc repro` with dataset=fsdd features=mfcc
model=dscnn in a copy of the repository ends in firmware whose every test clip (int16 PCM -> C MFCC
-> C DS-CNN) gives the Python int8 pipeline's logits on QEMU, within the board's budget."""
from __future__ import annotations

import json

import pytest
import yaml

from dvc_repo import copy_repo, run

pytestmark = pytest.mark.slow

# features.variant=q15: arm_mfcc_q15 is integer arithmetic, bit-exact on the device; the f32 MFCC of
# the x86 cmsisdsp wheel (-ffast-math) and of the Cortex-M4 differ in the last bits (tests/test_mfcc.py),
# which can move an int8 model input by one step on a rare clip
TINY = ["features=mfcc", "features.variant=q15", "model=dscnn", "train.epochs=2", "distill.epochs=2",
        "prune.epochs=2", "quantize.representative_windows=32", "quantize.qat_epochs=1", "distill.max_param_ratio=1.0"]


def test_kws_chain_ends_in_qemu_verified_firmware(tiny_fsdd, tmp_path):
    repo = copy_repo(tmp_path / "kws")
    run(["python", "-m", "mcuforge.cli", "compose", *tiny_fsdd["overrides"], *TINY], repo)
    run(["dvc", "repro"], repo)
    reports = {s: json.loads((repo / "reports" / f"{s}.json").read_text())
               for s in ("features", "codegen", "verify", "firmware")}
    mix = reports["features"]["class_mix"]
    assert set(mix) == {"train", "val", "test"} and all(m for m in mix.values())
    fw = reports["firmware"]
    assert fw["features_block"] == "mfcc" and fw["qemu"]["windows"] > 0
    assert fw["qemu"]["logits_exact"] == fw["qemu"]["windows"]
    assert fw["flash_bytes"] <= fw["flash_budget"] and fw["ram_bytes"] + fw["stack_bytes"] <= fw["ram_budget"]
    assert reports["verify"]["features_max_rel_err"] == 0.0
    blocks = yaml.safe_load((repo / "params.yaml").read_text())["model"]["student"]["blocks"]
    assert reports["codegen"]["ops"].count("DEPTHWISE_CONV_2D") == len(blocks) == 4
    assert reports["codegen"]["weights_bytes"] <= 32 * 1024
