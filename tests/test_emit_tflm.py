"""The tflm backend's generated text: exact op resolver, aligned model array that round-trips,
determinism, errors. The TFLM headers are not available here, so the plain-C model array is
compiled and run with gcc, and the C++ glue is compiled, linked and run against minimal stub
TFLM headers (tests/test_emit_tflm.py:STUB_*) that record the resolver calls."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from mcuforge.codegen.emit_tflm import generate_tflm
from mcuforge.codegen.tflm_model import TFLM_ADD_METHODS, model_ops, resolver_methods
from mcuforge.codegen.errors import CodegenError
from mcuforge.codegen.model_reader import read_model
from bench_models import bench_bytes

LABELS = ["PEN", "ABD", "FEL", "IR", "ER", "TRAP", 'say "hi" */']
CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic"]
CONV1D_OPS = ["EXPAND_DIMS", "CONV_2D", "RESHAPE", "MAX_POOL_2D", "DEPTHWISE_CONV_2D", "MEAN", "FULLY_CONNECTED"]


@pytest.fixture(scope="module")
def conv1d(tmp_path_factory):
    model = bench_bytes("conv1d")
    out = tmp_path_factory.mktemp("tflm") / "generated"
    summary = generate_tflm(model, out, LABELS, name="model", arena_bytes=5000)
    return model, out, summary


def test_files_and_summary(conv1d):
    model, out, summary = conv1d
    assert summary["files"] == ["model.h", "model_data.c", "model_tflm.cc", "model_tflm.h"]
    assert sorted(p.name for p in out.iterdir()) == summary["files"]
    assert summary["registered_ops"] == CONV1D_OPS
    assert summary["ops"] == [op.opcode for op in read_model(model).operators]
    assert summary["arena_bytes"] == 5008  # rounded up to 16
    assert summary["model_bytes"] == len(model)
    assert (summary["input_size"], summary["output_size"]) == (600, 7)


def test_resolver_registers_exactly_the_model_ops(conv1d):
    _, out, _ = conv1d
    source = (out / "model_tflm.cc").read_text()
    calls = re.findall(r"resolver\.(Add\w+)\(\)", source)
    assert calls == [TFLM_ADD_METHODS[op] for op in CONV1D_OPS]
    assert "#define MCUFORGE_MODEL_NUM_OPS 7" in (out / "model.h").read_text()
    assert "tflite::MicroMutableOpResolver<MCUFORGE_MODEL_NUM_OPS>" in (out / "model_tflm.h").read_text()
    assert "static_assert(MCUFORGE_MODEL_NUM_OPS == 7" in source
    assert "alignas(16) uint8_t tensor_arena[MCUFORGE_MODEL_ARENA_BYTES];" in source
    assert "#define MCUFORGE_MODEL_ARENA_BYTES 5008" in (out / "model.h").read_text()


def test_model_array_text_round_trips(conv1d):
    model, out, _ = conv1d
    data = (out / "model_data.c").read_text()
    assert "__attribute__((aligned(16)))" in data and "alignas(16)" in data
    assert f"#define MCUFORGE_MODEL_TFLITE_LEN {len(model)}" in (out / "model.h").read_text()
    body = data.split("mcuforge_model_tflite[MCUFORGE_MODEL_TFLITE_LEN] = {", 1)[1].split("};", 1)[0]
    values = bytes(int(v, 16) for v in re.findall(r"0x[0-9a-f]{2}", body))
    assert values == model


HARNESS_C = r"""#include <stdint.h>
#include <stdio.h>
#include "model.h"
int main(void)
{
    int i;
    if (((uintptr_t)mcuforge_model_tflite) % 16 != 0)
        return 10;
    if (mcuforge_model_tflite_len != MCUFORGE_MODEL_TFLITE_LEN)
        return 11;
    fwrite(mcuforge_model_tflite, 1, mcuforge_model_tflite_len, stdout);
    for (i = 0; mcuforge_model_labels[i] != NULL; ++i)
        fwrite(mcuforge_model_labels[i], 1, strlen(mcuforge_model_labels[i]) + 1, stdout);
    return i == MCUFORGE_MODEL_NUM_LABELS ? 0 : 12;
}
"""


@pytest.mark.parametrize("compiler, std", [("gcc", "-std=c99"), ("g++", "-std=c++11")])
def test_model_array_compiles_aligned_and_round_trips(conv1d, tmp_path, compiler, std):
    model, out, _ = conv1d
    ext = "c" if compiler == "gcc" else "cc"
    (tmp_path / f"main.{ext}").write_text(HARNESS_C.replace("#include <stdio.h>", "#include <stdio.h>\n#include <string.h>"))
    data_src = out / "model_data.c"
    if compiler == "g++":  # the C++ branch (alignas) of the same file
        (tmp_path / "model_data.cc").write_text(data_src.read_text())
        data_src = tmp_path / "model_data.cc"
    exe = tmp_path / "dump"
    flags = [std, *CFLAGS[1:]] if compiler == "gcc" else [std, "-O2", "-Wall", "-Wextra", "-Werror"]
    subprocess.run([compiler, *flags, "-I", str(out), str(tmp_path / f"main.{ext}"), str(data_src), "-o", str(exe)],
                   check=True, capture_output=True)
    printed = subprocess.run([str(exe)], check=True, capture_output=True).stdout
    assert printed[:len(model)] == model
    assert printed[len(model):].split(b"\0")[:-1] == [label.encode() for label in LABELS]


# Minimal stand-ins for the TFLM headers the glue includes: enough API to compile, link and run
# it. The resolver logs each Add*() call; the interpreter's Invoke adds 1 to the first outputs.
STUB_HEADERS = {
    "tensorflow/lite/schema/schema_generated.h": """#pragma once
#define TFLITE_SCHEMA_VERSION 3
namespace tflite { struct Model { int version() const { return 3; } };
inline const Model *GetModel(const void *) { static Model m; return &m; } }
""",
    "tensorflow/lite/micro/micro_mutable_op_resolver.h": """#pragma once
#include <stdio.h>
enum TfLiteStatus { kTfLiteOk = 0, kTfLiteError = 1 };
namespace tflite {
template <unsigned int N> class MicroMutableOpResolver {
 public:
  unsigned int count = 0;
@METHODS@
 private:
  TfLiteStatus Log(const char *name) {
    if (count >= N) return kTfLiteError;
    ++count; printf("%s\\n", name); return kTfLiteOk;
  }
};
}
""",
    "tensorflow/lite/micro/micro_interpreter.h": """#pragma once
#include <stddef.h>
#include <stdint.h>
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"
enum TfLiteType { kTfLiteInt8 = 9 };
struct TfLiteTensor { TfLiteType type; size_t bytes; union { int8_t *int8; } data; };
namespace tflite {
class MicroInterpreter {
 public:
  template <typename R> MicroInterpreter(const Model *, const R &, uint8_t *arena, size_t size)
      : arena_(arena), size_(size) {}
  TfLiteStatus AllocateTensors() {
    if (size_ < STUB_IN + STUB_OUT) return kTfLiteError;
    in_ = {kTfLiteInt8, STUB_IN, {reinterpret_cast<int8_t *>(arena_)}};
    out_ = {kTfLiteInt8, STUB_OUT, {reinterpret_cast<int8_t *>(arena_) + STUB_IN}};
    return kTfLiteOk;
  }
  TfLiteTensor *input(size_t) { return &in_; }
  TfLiteTensor *output(size_t) { return &out_; }
  TfLiteStatus Invoke() {
    for (size_t i = 0; i < STUB_OUT; ++i) out_.data.int8[i] = static_cast<int8_t>(in_.data.int8[i] + 1);
    return kTfLiteOk;
  }
 private:
  uint8_t *arena_; size_t size_; TfLiteTensor in_{}, out_{};
};
}
""",
}

STUB_MAIN = r"""#include <stdio.h>
#include "model.h"
int main()
{
    int8_t input[MCUFORGE_MODEL_INPUT_SIZE], output[MCUFORGE_MODEL_OUTPUT_SIZE];
    for (int i = 0; i < MCUFORGE_MODEL_INPUT_SIZE; ++i) input[i] = (int8_t)(i % 100);
    if (mcuforge_model_invoke(input, output) != 0) return 20;
    int8_t *slot = mcuforge_model_input_buffer();  /* in place: no copy, same interpreter */
    if (slot == NULL) return 21;
    slot[0] = 50;
    if (mcuforge_model_invoke(slot, output) != 0) return 22;
    if (mcuforge_model_invoke(NULL, output) != MCUFORGE_MODEL_ERR_NULL) return 23;
    printf("out");
    for (int i = 0; i < MCUFORGE_MODEL_OUTPUT_SIZE; ++i) printf(" %d", output[i]);
    printf("\n");
    return 0;
}
"""


def write_stubs(root: Path, in_size: int, out_size: int) -> Path:
    methods = "\n".join(f'  TfLiteStatus {m}() {{ return Log("{m}"); }}' for m in sorted(set(TFLM_ADD_METHODS.values())))
    for rel, text in STUB_HEADERS.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.replace("@METHODS@", methods).replace("STUB_IN", str(in_size))
                        .replace("STUB_OUT", str(out_size)))
    return root


def test_tflm_glue_compiles_and_runs_against_stub_headers(conv1d, tmp_path):
    _, out, summary = conv1d
    stubs = write_stubs(tmp_path / "stubs", summary["input_size"], summary["output_size"])
    (tmp_path / "main.cc").write_text(STUB_MAIN)
    exe = tmp_path / "glue"
    cmd = ["g++", "-std=c++17", "-O2", "-Wall", "-Wextra", "-Werror", "-I", str(stubs), "-I", str(out),
           str(tmp_path / "main.cc"), str(out / "model_tflm.cc"), "-x", "c++", str(out / "model_data.c"),
           "-o", str(exe)]
    subprocess.run(cmd, check=True, capture_output=True)
    lines = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.splitlines()
    assert lines[:-1] == [TFLM_ADD_METHODS[op] for op in CONV1D_OPS]  # registered once, exactly these
    assert lines[-1] == "out 51 2 3 4 5 6 7"


def test_generation_is_deterministic(tmp_path):
    model = bench_bytes("conv1d")
    a = generate_tflm(model, tmp_path / "a", LABELS, arena_bytes=4096)
    generate_tflm(model, tmp_path / "b", LABELS, arena_bytes=4096)
    for filename in a["files"]:
        assert (tmp_path / "a" / filename).read_bytes() == (tmp_path / "b" / filename).read_bytes()


def test_name_becomes_identifier(tmp_path):
    summary = generate_tflm(bench_bytes("dense"), tmp_path, [], name="2nd model", arena_bytes=100)
    assert summary["name"] == "m_2nd_model"
    assert (tmp_path / "m_2nd_model_tflm.cc").exists()
    assert "mcuforge_m_2nd_model_invoke" in (tmp_path / "m_2nd_model.h").read_text()
    assert summary["registered_ops"] == ["FULLY_CONNECTED"] and summary["ops"] == ["FULLY_CONNECTED"] * 3


def test_unknown_and_custom_ops_are_errors():
    assert resolver_methods(["CONV_2D", "TANH", "CONV_2D"]) == [("CONV_2D", "AddConv2D"), ("TANH", "AddTanh")]
    with pytest.raises(CodegenError, match=r"operator #1 is HASHTABLE_LOOKUP"):
        resolver_methods(["CONV_2D", "HASHTABLE_LOOKUP"])
    with pytest.raises(CodegenError, match=r"custom op 'MyOp'.*AddCustom"):
        resolver_methods(["CUSTOM:MyOp"])


def test_bad_arguments_are_errors(tmp_path):
    model = bench_bytes("dense")
    with pytest.raises(CodegenError, match="positive arena"):
        generate_tflm(model, tmp_path, [], arena_bytes=0)
    with pytest.raises(CodegenError, match="3 labels"):
        generate_tflm(model, tmp_path, ["a", "b", "c"], arena_bytes=100)
    with pytest.raises(CodegenError, match="not a readable"):
        generate_tflm(b"garbage", tmp_path, [], arena_bytes=100)
    assert not list(tmp_path.iterdir())


def test_model_ops_reads_every_operator():
    model = bench_bytes("conv1d")
    assert model_ops(model) == [op.opcode for op in read_model(model).operators]
    assert np.unique(model_ops(model)).size == len(CONV1D_OPS)
