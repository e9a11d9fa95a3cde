"""The Zephyr microphone source without Zephyr: mcuforge_stream_config.h (decimation by the model's
rate, the streaming settings the bare-metal harness gets too, a clear reason where the model cannot
take a microphone) and the Kconfig / CMake wiring of -DMCUFORGE_WINDOW_SOURCE=dmic. The decimator is
in test_decimate.py, the shared streaming loop on QEMU in test_streaming.py."""
from __future__ import annotations

import re

import pytest
import yaml

from conftest import ROOT
from mcuforge.firmware.mic_config import stream_config_header
from mcuforge.firmware.streaming import stream_defines

FIRMWARE = ROOT / "firmware"
MFCC = yaml.safe_load((ROOT / "conf/features/mfcc.yaml").read_text())
STREAMING = yaml.safe_load((ROOT / "conf/streaming/default.yaml").read_text())


def _defines(text: str) -> dict[str, str]:
    return dict(re.findall(r"^#define (\w+) (.+)$", text, re.M))


@pytest.mark.parametrize("rate,decimation", [(8000, 2), (16000, 1)])
def test_header_decimates_to_the_model_rate_with_the_harness_settings(rate, decimation):
    params = {"features": MFCC, "dataset": {"sample_rate_hz": rate}, "streaming": STREAMING}
    got = _defines(stream_config_header(params, 0.1))
    assert got["MCUFORGE_STREAM_OK"] == "1" and got["MCUFORGE_MIC_RATE_HZ"] == "16000"
    assert int(got["MCUFORGE_MIC_DECIMATION"]) == decimation and int(got["MCUFORGE_MODEL_RATE_HZ"]) == rate
    hop = round(MFCC["hop_ms"] * rate / 1000)
    for key, value in stream_defines(STREAMING, 0.1, hop / rate).items():
        assert int(got[key]) == value


@pytest.mark.parametrize("features,rate,reason", [({"block": "raw"}, 8000, "features=mfcc"),
                                                  (MFCC, 11025, "use 8000 or 16000")])
def test_header_names_why_the_model_cannot_take_the_microphone(features, rate, reason):
    text = stream_config_header({"features": features, "dataset": {"sample_rate_hz": rate},
                                 "streaming": STREAMING}, 0.1)
    got = _defines(text)
    assert got["MCUFORGE_STREAM_OK"] == "0" and reason in got["MCUFORGE_STREAM_REASON"]
    assert "MCUFORGE_MIC_DECIMATION" not in got


def test_kconfig_and_cmake_choose_the_mic_source_and_its_own_main():
    kconfig = (FIRMWARE / "Kconfig").read_text()
    assert re.search(r"config MCUFORGE_WINDOW_SOURCE_DMIC\n.*\n\tdepends on AUDIO_DMIC", kconfig)
    conf = (FIRMWARE / "dmic.conf").read_text()
    assert "CONFIG_AUDIO_DMIC=y" in conf and "CONFIG_MCUFORGE_WINDOW_SOURCE_DMIC=y" in conf
    cmake = (FIRMWARE / "CMakeLists.txt").read_text()
    assert "${CMAKE_CURRENT_LIST_DIR}/dmic.conf" in cmake and "src/main_stream.c" in cmake
    for name in ("source_dmic.c", "decimate.c", "kws_stream.c", "main_stream.c"):
        assert (FIRMWARE / "src" / name).exists()
        assert name in cmake
