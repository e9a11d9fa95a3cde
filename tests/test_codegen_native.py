"""The native backend end to end: bench models, arena plan, generated-code contract, errors."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from mcuforge.codegen import CodegenError, generate_native  # noqa: E402
from mcuforge.codegen.arena_planner import Buffer, plan_arena  # noqa: E402
from mcuforge.codegen.c_names import c_comment_text, c_identifier, c_string_literal  # noqa: E402
from mcuforge.codegen.host_build import CFLAGS, RUNTIME_DIR, build_host, native_outputs, run_host  # noqa: E402
from mcuforge.codegen.quant_math import quantize_multiplier  # noqa: E402
from mcuforge.codegen.tflm_reference import tflm_outputs  # noqa: E402
from bench_models import GOLDEN, bench_bytes, documented_input, tflm_golden  # noqa: E402

TESTS_C = Path(__file__).parent / "c"


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_logits_are_tflite_micros_output(name):
    """The golden table is derived, not typed: tflite_micro on the documented input gives it, and
    benchmarks/codegen.py checks its runs against the same numbers."""
    from benchmarks.codegen import EXPECTED

    assert tflm_golden(name) == GOLDEN[name] == EXPECTED[name]


@pytest.fixture(scope="module", params=sorted(GOLDEN))
def bench(request, tmp_path_factory):
    """(name, model bytes, summary, harness executable) per bench model, built once."""
    name = request.param
    model = bench_bytes(name)
    out = tmp_path_factory.mktemp(name)
    summary = generate_native(model, out / "generated", labels=[f"class{i}" for i in range(7)])
    exe = build_host(out / "generated", summary["name"], out / "build")
    return name, model, summary, exe


def test_bench_documented_input_gives_documented_output(bench):
    name, _, summary, exe = bench
    out = run_host(exe, documented_input(summary["input_size"])[None], summary["output_size"])
    assert out[0].tolist() == GOLDEN[name]


def test_bench_equals_tflm_on_random_inputs(bench):
    _, model, summary, exe = bench
    inputs = np.random.default_rng(7).integers(-128, 128, size=(1000, summary["input_size"]), dtype=np.int8)
    np.testing.assert_array_equal(run_host(exe, inputs, summary["output_size"]), tflm_outputs(model, inputs))


def test_bench_arena_within_five_percent_of_lower_bound(bench):
    _, _, summary, _ = bench
    assert summary["arena_lower_bound"] > 0
    assert summary["arena_bytes"] <= 1.05 * summary["arena_lower_bound"]


def test_bench_summary(bench):
    name, _, summary, _ = bench
    if name == "conv1d":
        assert summary["ops"] == ["EXPAND_DIMS", "CONV_2D", "RESHAPE", "EXPAND_DIMS", "MAX_POOL_2D", "RESHAPE",
                                  "EXPAND_DIMS", "DEPTHWISE_CONV_2D", "RESHAPE", "EXPAND_DIMS", "CONV_2D",
                                  "RESHAPE", "MEAN", "FULLY_CONNECTED"]
        assert 55_000 < summary["macs"] < 65_000  # "≈60k MACs"
    else:
        assert summary["ops"] == ["FULLY_CONNECTED"] * 3
        assert summary["macs"] == 48 * 32 + 32 * 16 + 16 * 7
    assert summary["weights_bytes"] > 0
    assert summary["input_size"] == (600 if name == "conv1d" else 48)


def test_dsp_path_is_bit_exact_with_emulated_instructions(bench, tmp_path):
    """The __ARM_FEATURE_DSP inner loop (SMLAD on int16 pairs), with SXTB16/SADD16/SMLAD modelled in C."""
    name, model, summary, _ = bench
    generate_native(model, tmp_path / "generated", labels=[])
    exe = build_host(tmp_path / "generated", "model", tmp_path / "build", extra_flags=("-DMF_EMULATE_DSP",))
    inputs = np.random.default_rng(11).integers(-128, 128, size=(300, summary["input_size"]), dtype=np.int8)
    np.testing.assert_array_equal(run_host(exe, inputs, summary["output_size"]), tflm_outputs(model, inputs))


def test_dsp_branch_compiles_against_acle_prototypes(tmp_path):
    """No Arm compiler here: compile (not link) the __ARM_FEATURE_DSP branch on the host
    against ACLE prototypes, warning-free, to catch type and syntax errors."""
    for source in sorted((RUNTIME_DIR / "src").glob("*.c")):
        subprocess.run(["gcc", *CFLAGS, "-D__ARM_FEATURE_DSP=1",
                        "-I", str(TESTS_C / "acle_stub"), "-I", str(RUNTIME_DIR / "include"), "-c", str(source),
                        "-o", str(tmp_path / f"{source.stem}.o")], check=True, capture_output=True)


def test_generation_is_deterministic(tmp_path):
    model = bench_bytes("conv1d")
    generate_native(model, tmp_path / "a", labels=["x"] * 7)
    generate_native(model, tmp_path / "b", labels=["x"] * 7)
    for filename in ("model.h", "model.c"):
        assert (tmp_path / "a" / filename).read_bytes() == (tmp_path / "b" / filename).read_bytes()


def test_generated_source_contract(tmp_path):
    summary = generate_native(bench_bytes("dense"), tmp_path, labels=[str(i) for i in range(7)], name="dense")
    header = (tmp_path / "dense.h").read_text()
    source = (tmp_path / "dense.c").read_text()
    for needle in ("MCUFORGE_DENSE_INPUT_SCALE", "MCUFORGE_DENSE_INPUT_ZERO_POINT (9)",
                   "MCUFORGE_DENSE_OUTPUT_ZERO_POINT (26)", "int mcuforge_dense_invoke(const int8_t *input, "
                   "int8_t *output);", "int32_t mcuforge_dense_input_size(void);"):
        assert needle in header
    assert f"static int8_t arena[MCUFORGE_DENSE_ARENA_BYTES]" in source
    assert f"#define MCUFORGE_DENSE_ARENA_BYTES {summary['arena_bytes']}" in header
    assert "malloc" not in source and "math.h" not in source
    assert source.count("static const int8_t op") == 3  # three weight matrices in flash


WEIRD_LABELS = ['say "hi"', "back\\slash", "end */ comment /* start", "two\nlines\ttab", "naïve ☃ 雪",
                "trigraph ??/ ??=", "", "%s %d"]


def test_label_and_name_escaping_round_trip(tmp_path):
    labels = WEIRD_LABELS[:7]
    name = 'my "model" */ v2\n☃'
    summary = generate_native(bench_bytes("dense"), tmp_path / "gen", labels=labels, name=name)
    ident = summary["name"]
    assert ident == c_identifier(name) and ident.isidentifier() and ident.isascii()
    exe = tmp_path / "print_labels"
    cmd = ["gcc", *CFLAGS, "-I", str(RUNTIME_DIR / "include"), "-I", str(tmp_path / "gen"),
           f'-DMODEL_HEADER="{ident}.h"', f"-DMODEL_LABELS=mcuforge_{ident}_labels",
           str(TESTS_C / "print_labels.c"), str(tmp_path / "gen" / f"{ident}.c"),
           *map(str, sorted((RUNTIME_DIR / "src").glob("*.c"))), "-o", str(exe)]
    subprocess.run(cmd, check=True, capture_output=True)
    printed = subprocess.run([str(exe)], check=True, capture_output=True).stdout
    assert printed.split(b"\0")[:-1] == [label.encode("utf-8") for label in labels]


def test_escaping_helpers():
    assert c_string_literal('a"b\\c?\n') == '"a\\042b\\134c\\077\\012"'
    assert "*/" not in c_comment_text("x */ y") and "?" not in c_comment_text("??/")
    assert c_identifier("2nd model") == "m_2nd_model"
    assert c_identifier("int") == "m_int"
    assert c_identifier("") == "model"


def test_wrong_label_count_is_an_error(tmp_path):
    with pytest.raises(CodegenError, match="3 labels"):
        generate_native(bench_bytes("dense"), tmp_path, labels=["a", "b", "c"])


def test_quantize_multiplier_matches_tflm_examples():
    assert quantize_multiplier(0.0) == (0, 0)
    assert quantize_multiplier(0.5) == (1 << 30, 0)
    assert quantize_multiplier(1.0) == (1 << 30, 1)
    assert quantize_multiplier(0.75) == (1610612736, 0)
    assert quantize_multiplier(1e-12) == (0, 0)  # shift below -31 flushes to zero
    m, s = quantize_multiplier(0.3)
    assert m == round(0.6 * (1 << 31)) and s == -1


def test_arena_planner_reaches_lower_bound_on_a_chain():
    buffers = [Buffer(key=i, size=size, first=i, last=i + 1) for i, size in enumerate([600, 1536, 768, 736, 16])]
    plan = plan_arena(buffers)
    assert plan.lower_bound == 1536 + 768
    assert plan.arena_bytes <= 1.05 * plan.lower_bound
    for a in buffers:
        for b in buffers:
            if a.key < b.key and a.overlaps(b):
                a0, b0 = plan.offsets[a.key], plan.offsets[b.key]
                assert a0 + a.size <= b0 or b0 + b.size <= a0


# ---------------------------------------------------------------------------------------------
# Unsupported models raise CodegenError naming op, tensor and option, pointing at the tflm backend.

def _convert_int8(model, input_shape, quantize: bool = True) -> bytes:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantize:
        rng = np.random.default_rng(0)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: (
            [rng.uniform(-1, 1, size=(1, *input_shape)).astype(np.float32)] for _ in range(8))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return converter.convert()


def _dense_model(activation: str):
    import tensorflow as tf

    tf.keras.utils.set_random_seed(3)
    inputs = tf.keras.Input(shape=(8,), batch_size=1)
    return tf.keras.Model(inputs, tf.keras.layers.Dense(4, activation=activation, name="head")(inputs))


@pytest.mark.parametrize("activation, opcode", [("tanh", "TANH"), ("sigmoid", "LOGISTIC")])
def test_unsupported_op_raises_codegen_error(activation, opcode, tmp_path):
    model = _convert_int8(_dense_model(activation), (8,))
    with pytest.raises(CodegenError) as info:
        generate_native(model, tmp_path, labels=[])
    message = str(info.value)
    assert opcode in message and "codegen.backend=tflm" in message and "head" in message
    assert not list(tmp_path.glob("*.c"))


def test_float_model_raises_codegen_error(tmp_path):
    model = _convert_int8(_dense_model("relu"), (8,), quantize=False)
    with pytest.raises(CodegenError, match="float32.*codegen.backend=tflm"):
        generate_native(model, tmp_path, labels=[])


def test_native_outputs_helper_round_trip(tmp_path):
    model = bench_bytes("dense")
    x = documented_input(48)[None]
    assert native_outputs(model, x, tmp_path)[0].tolist() == GOLDEN["dense"]
