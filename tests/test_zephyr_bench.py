"""benchmarks/zephyr_bench.py: issue 11's ratios from the runs, how measured runs replace recorded ones,
cycles -> instructions, the test windows' bytes read from a real ELF, run specs BOARD:BACKEND[:MODEL] and
(benchmarks/zephyr_alone.py) the model-alone inputs, console and summary -- and, where a Zephyr workspace
exists, the hello_world baseline built for real."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from conftest import ROOT
from mcuforge.firmware import zephyr_workspace

sys.path.insert(0, str(ROOT / "benchmarks"))
import zephyr_alone  # noqa: E402
import zephyr_bench  # noqa: E402


def run(board, backend, flash, ram, cycles=None, windows=38_592):
    return {"board": board, "backend": backend, "flash_bytes": flash, "ram_bytes": ram,
            "window_bytes": windows, "cycles_per_inference_median": cycles}


def test_ratios_per_board_with_increments_over_hello_world_without_the_windows():
    runs = {"mps2/an386:native": run("mps2/an386", "native", 70_000, 13_500, cycles=900_000),
            "mps2/an386:tflm_cmsis_nn": run("mps2/an386", "tflm_cmsis_nn", 160_000, 20_000, cycles=1_000_000),
            "mps2/an386:tflm_reference": run("mps2/an386", "tflm_reference", 130_000, 20_000, cycles=5_000_000),
            "mps2/an386:hello_world": run("mps2/an386", "hello_world", 15_000, 4_500, windows=0)}
    r = zephyr_bench.issue_ratios(runs)["mps2/an386"]
    assert r["native_over_tflm_cmsis_nn_cycles"] == {"value": 0.9, "target": 1.0, "met": True}
    # (70,000 - 15,000 - 38,592) / (130,000 - 15,000 - 38,592) = 16,408 / 76,408
    assert r["native_over_tflm_reference_flash_increment"] == {"value": 0.2147, "target": 0.5, "met": True}
    # RAM holds no windows: (13,500 - 4,500) / (20,000 - 4,500)
    assert r["native_over_tflm_reference_ram_increment"] == {"value": 0.5806, "target": 0.5, "met": False}


def test_cortex_m3_cycles_target_is_0_8_and_missing_runs_say_so():
    runs = {"qemu_cortex_m3:native": run("qemu_cortex_m3", "native", 68_000, 13_400, cycles=900_000),
            "qemu_cortex_m3:tflm_cmsis_nn": run("qemu_cortex_m3", "tflm_cmsis_nn", 144_000, 19_900, cycles=1_100_000)}
    r = zephyr_bench.issue_ratios(runs)["qemu_cortex_m3"]
    assert r["native_over_tflm_cmsis_nn_cycles"] == {"value": 0.8182, "target": 0.8, "met": False}
    assert r["native_over_tflm_reference_flash_increment"]["met"] is None
    assert "not measured" in r["native_over_tflm_reference_ram_increment"]["note"]


def test_a_measured_run_replaces_its_recorded_and_not_measured_entries():
    section = {"runs": {}, "recorded": {"qemu_cortex_m3:tflm_cmsis_nn": {"cycles_per_inference_median": 1},
                                        "qemu_cortex_m3:native_before_issue_11": {"cycles_per_inference_median": 2}},
               "not_measured": {"mps2/an386:tflm_cmsis_nn": "later"}}
    zephyr_bench.merge(section, "qemu_cortex_m3:tflm_cmsis_nn", run("qemu_cortex_m3", "tflm_cmsis_nn", 1, 1, 10))
    assert list(section["recorded"]) == ["qemu_cortex_m3:native_before_issue_11"]
    zephyr_bench.merge(section, "mps2/an386:tflm_cmsis_nn", run("mps2/an386", "tflm_cmsis_nn", 1, 1, 10))
    assert "not_measured" not in section
    assert set(section["ratios"]) == {"qemu_cortex_m3", "mps2/an386"}


def test_cycles_to_instructions_at_64_ns_each():
    assert zephyr_bench.instructions(1_600, 25_000_000) == 1_000      # mps2/an386: 1.6 cycles each
    assert zephyr_bench.instructions(768, 12_000_000) == 1_000        # qemu_cortex_m3: 0.768 cycles each


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed "
                    "(apt-get install gcc-arm-none-eabi)")
def test_window_bytes_are_the_sample_arrays_of_a_real_elf(tmp_path):
    src = tmp_path / "w.c"
    src.write_text("const float mcuforge_sample_windows[3][5] = {{1}};\n"
                   "const unsigned char mcuforge_sample_labels[3] = {1, 2, 3};\n"
                   "const int other_table[100] = {1};\n"
                   "int main(void) { return (int)mcuforge_sample_windows[0][0] + mcuforge_sample_labels[1]"
                   " + other_table[2]; }\n")
    elf = tmp_path / "w.elf"
    subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m3", "-mthumb", "-O1", "--specs=nosys.specs",
                    str(src), "-o", str(elf)], check=True)
    assert zephyr_bench.window_bytes(elf) == 3 * 5 * 4 + 3


WORKSPACE = zephyr_workspace.find_workspace(ROOT)


@pytest.mark.skipif(WORKSPACE.zephyr_base is None, reason="no Zephyr workspace (docs/zephyr.md: west init -l "
                    "mcuforge && west update, or set ZEPHYR_BASE)")
@pytest.mark.slow
def test_hello_world_baseline_builds_for_qemu_cortex_m3(tmp_path, monkeypatch):
    monkeypatch.setenv("ZEPHYR_BASE", str(WORKSPACE.zephyr_base))
    result = zephyr_bench.measure("qemu_cortex_m3", "hello_world", tmp_path)
    assert result["backend"] == "hello_world" and 4_000 < result["flash_bytes"] < 40_000
    assert 0 < result["ram_bytes"] <= 65_536


def test_run_specs_default_to_the_student_and_name_the_model_alone_runs():
    assert zephyr_bench.parse_run("mps2/an386:native") == ("mps2/an386", "native", "student")
    assert zephyr_bench.parse_run("qemu_cortex_m3:tflm_cmsis_nn:kws_student") == (
        "qemu_cortex_m3", "tflm_cmsis_nn", "kws_student")
    assert zephyr_bench.run_key("mps2/an386", "native", "student") == "mps2/an386:native"
    assert zephyr_bench.run_key("mps2/an386", "native", "/x/my-model.tflite") == "mps2/an386:native:my_model"
    for bad, says in (("mps2/an386", "BOARD:BACKEND"), ("mps2/an386:cmsis", "not one of"),
                      ("mps2/an386:native:resnet", "not student"), ("mps2/an386:hello_world:teacher", "no model"),
                      ("a:b:c:d", "BOARD:BACKEND")):
        with pytest.raises(SystemExit, match=says):
            zephyr_bench.parse_run(bad)


def test_model_alone_inputs_select_the_backend_and_hold_the_expected_output():
    cmake = zephyr_alone.alone_inputs_cmake("kws_student", "tflm_cmsis_nn")
    assert "set(MCUFORGE_MODEL kws_student)" in cmake and "set(MCUFORGE_BACKEND tflm)" in cmake
    assert "set(MCUFORGE_TFLM_CMSIS_NN ON)" in cmake and "set(MCUFORGE_MODEL_ALONE ON)" in cmake
    assert "set(MCUFORGE_BACKEND native)" in zephyr_alone.alone_inputs_cmake("teacher", "native")
    assert "set(MCUFORGE_TFLM_CMSIS_NN OFF)" in zephyr_alone.alone_inputs_cmake("teacher", "tflm_reference")
    assert "mf_alone_expected[3] = {-128, 0, 127};" in zephyr_alone.alone_header("teacher", [-128, 0, 127])


def test_model_alone_console_is_parsed_and_a_missing_line_is_an_error():
    console = ("*** Booting Zephyr OS build v4.1.0-rc1 ***\nmcuforge: model kws_student alone, native backend, "
               "490 inputs, 10 outputs\nmodel alone: status 0, 1234567 cycles, first invoke status 0, 1234570 "
               "cycles, output exact\noutput: -128 5 -3 127 0 0 0 0 0 -1\nmcuforge: PASS\n")
    assert zephyr_alone.parse_alone_console(console) == {
        "result": "PASS", "status": 0, "cycles": 1234567, "first_invoke_status": 0, "first_invoke_cycles": 1234570,
        "output": [-128, 5, -3, 127, 0, 0, 0, 0, 0, -1]}
    with pytest.raises(SystemExit, match="model alone"):
        zephyr_alone.parse_alone_console(console.replace("output: ", "out: "))


def alone(board, backend, model, instructions, flash, ram):
    return {"board": board, "backend": backend, "model": model, "instructions_per_invoke": instructions,
            "flash_bytes": flash, "ram_bytes": ram, "output_exact": True}


def test_model_alone_summary_per_model_and_board_and_merge_keeps_the_other_runs():
    section = {"runs": {"mps2/an386:hello_world": run("mps2/an386", "hello_world", 15_000, 4_500, windows=0),
                        "mps2/an386:native": run("mps2/an386", "native", 70_000, 13_500, cycles=900_000)}}
    zephyr_bench.merge(section, "mps2/an386:native:teacher", alone("mps2/an386", "native", "teacher", 400_000,
                                                                  45_000, 10_500))
    zephyr_bench.merge(section, "mps2/an386:tflm_cmsis_nn:teacher", alone("mps2/an386", "tflm_cmsis_nn", "teacher",
                                                                          500_000, 115_000, 14_500))
    zephyr_bench.merge(section, "qemu_cortex_m3:native:teacher", alone("qemu_cortex_m3", "native", "teacher",
                                                                      450_000, 44_000, 10_400))
    assert set(section["runs"]) == {"mps2/an386:hello_world", "mps2/an386:native", "mps2/an386:native:teacher",
                                    "mps2/an386:tflm_cmsis_nn:teacher", "qemu_cortex_m3:native:teacher"}
    m4 = section["model_alone"]["teacher"]["mps2/an386"]
    assert m4["native"] == {"instructions": 400_000, "output_exact": True, "flash_increment": 30_000,
                            "ram_increment": 6_000}
    assert m4["native_over_tflm_cmsis_nn"] == {"instructions": 0.8, "flash_increment": 0.3, "ram_increment": 0.6}
    m3 = section["model_alone"]["teacher"]["qemu_cortex_m3"]  # no hello_world, no CMSIS-NN run on that board
    assert m3["native"]["flash_increment"] is None
    assert m3["native_over_tflm_cmsis_nn"] == {"instructions": None, "flash_increment": None, "ram_increment": None}
    assert set(section["ratios"]) == {"mps2/an386", "qemu_cortex_m3"}  # the student's ratios, unchanged keys


@pytest.mark.skipif(WORKSPACE.zephyr_base is None, reason="no Zephyr workspace (docs/zephyr.md: west init -l "
                    "mcuforge && west update, or set ZEPHYR_BASE)")
@pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="qemu-system-arm not installed "
                    "(apt-get install qemu-system-arm)")
@pytest.mark.slow
def test_dense_model_alone_runs_exact_in_zephyr_on_qemu_cortex_m3(tmp_path, monkeypatch):
    monkeypatch.setenv("ZEPHYR_BASE", str(WORKSPACE.zephyr_base))
    result = zephyr_bench.measure_alone("qemu_cortex_m3", "native", "dense", tmp_path, None)
    assert result["result"] == "PASS" and result["output_exact"] and result["model"] == "dense"
    assert result["output"] == result["expected_output"] and len(result["output"]) > 1
    assert 0 < result["instructions_per_invoke"] < 1_000_000
