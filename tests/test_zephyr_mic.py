"""The microphone source in a real Zephyr build (only where a Zephyr workspace exists): west build of
the app with -DMCUFORGE_WINDOW_SOURCE=dmic for arduino_nano_33_ble/nrf52840/sense (its PDM
microphone, dmic_dev) around a random DS-CNN over the MFCC map (test_firmware_audio's audio_build);
the image must carry the DMIC driver, the decimator and the shared streaming loop."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import yaml

from conftest import ROOT, tool_env
from mcuforge.codegen.tflm_runtime import device_logits, io_quantization
from mcuforge.firmware import baremetal, firmware_image, zephyr_build, zephyr_inputs, zephyr_workspace
from mcuforge.firmware.mic_config import STREAM_H, stream_config_header
from test_firmware_audio import RATE, audio_build, write_features_header  # noqa: F401 (fixture)

WORKSPACE = zephyr_workspace.find_workspace(ROOT)
BOARD = "arduino_nano_33_ble/nrf52840/sense"


@pytest.mark.skipif(WORKSPACE.zephyr_base is None, reason="no Zephyr workspace (docs/zephyr.md: west init -l "
                    "mcuforge && west update, or set ZEPHYR_BASE)")
@pytest.mark.parametrize("clip_norm", ["none", "mean"])
def test_west_build_with_the_microphone_source(audio_build, clip_norm, tmp_path):  # noqa: F811
    model, windows, x_std, out = audio_build
    inputs = tmp_path / "inputs"
    cfg, _ = write_features_header(model, windows, clip_norm, inputs)   # mean: kws_stream.c's float ring
    core = baremetal.CORES["cortex-m4"]
    zephyr_inputs.write_app_inputs(inputs, model="kws", backend="native", cmsis_nn=False, windows=windows[:1],
                                   labels=np.zeros(1, np.int64), logits=device_logits(model, x_std[:1]),
                                   test_indices=np.zeros(1, np.int64),
                                   cmsis=firmware_image.cmsis_build_inputs(core, "mfcc"))
    params = {"features": cfg, "dataset": {"sample_rate_hz": RATE},
              "streaming": yaml.safe_load((ROOT / "conf/streaming/default.yaml").read_text())}
    (inputs / STREAM_H).write_text(stream_config_header(params, io_quantization(model)["output"]["scale"]))
    env, args, _ = zephyr_build.toolchain_setup(tool_env(ZEPHYR_BASE=str(WORKSPACE.zephyr_base)))
    build = tmp_path / "b"
    proc = subprocess.run([sys.executable, "-m", "west", "build", "-b", BOARD, str(ROOT / "firmware"), "-d",
                           str(build), "-p", "auto", "--", f"-DMCUFORGE_INPUTS_DIR={inputs}",
                           f"-DMCUFORGE_GENERATED_DIR={out / 'generated'}", "-DMCUFORGE_WINDOW_SOURCE=dmic", *args],
                          env=env, capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    config = (build / "zephyr/.config").read_text()
    assert "CONFIG_MCUFORGE_WINDOW_SOURCE_DMIC=y" in config and "CONFIG_AUDIO_DMIC_NRFX_PDM=y" in config
    elf = build / "zephyr/zephyr.elf"
    symbols = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    for name in ("mf_decimate2", "mf_kws_stream_hop", "dmic_source_next_hop", "mcuforge_mfcc_frame_pcm"):
        assert f" {name}\n" in symbols, name
    assert (" mcuforge_mfcc_clip_normalize\n" in symbols) == (clip_norm == "mean")
    sizes = baremetal.elf_sizes(elf)
    assert 0 < sizes["flash"] < 928 * 1024 and 0 < sizes["ram"] < 256 * 1024
    print(f"\n{BOARD} dmic build: flash {sizes['flash']} B, RAM {sizes['ram']} B")
