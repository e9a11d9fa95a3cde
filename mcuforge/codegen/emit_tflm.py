"""The tflm backend: an int8 .tflite model packaged for TensorFlow Lite Micro.

Writes four files to out_dir (`<name>` made a C identifier by c_identifier):
- `<name>.h` (C and C++): the same API as the native backend (`mcuforge_<name>_invoke`,
  `_input_size`, `_output_size`, `_input_buffer`, `_labels`, the size / quantisation / arena
  macros) plus the model array declarations, so firmware can switch backends without edits;
- `<name>_data.c` (plain C99): the .tflite bytes as a 16-byte-aligned `const unsigned char`
  array, its length, and the escaped, NULL-terminated labels table;
- `<name>_tflm.h` / `<name>_tflm.cc` (C++, needs the TFLM headers of a Zephyr/TFLM workspace):
  `mcuforge_<name>_register_ops()` filling a `tflite::MicroMutableOpResolver<N>` with exactly the
  builtin ops the model uses (N = their count), and the C API above on a lazily created
  `tflite::MicroInterpreter` over a static arena of `MCUFORGE_<NAME>_ARENA_BYTES`.

The arena size is given by the caller (the codegen stage: TFLM's probed minimal arena on the
host + codegen.arena_margin_bytes, rounded up to 16). Same inputs → byte-identical files.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from mcuforge.atomic import atomic_path
from mcuforge.codegen.c_names import c_float_literal, c_identifier, c_string_literal
from mcuforge.codegen.errors import CodegenError
from mcuforge.codegen.tflm_model import load_model, model_io, model_ops, resolver_methods

MODEL_ALIGNMENT = 16
ARENA_ALIGNMENT = 16

# Negative status codes of the TFLM glue, beside the native MF_ERR_* (-1..-3) range.
_ERRORS = (("ERR_NULL", -1, "a required pointer is NULL"),
           ("ERR_SCHEMA", -101, "the model's schema version is not the one TFLM was built for"),
           ("ERR_OPS", -102, "registering the model's ops failed"),
           ("ERR_ARENA", -103, "AllocateTensors failed: the arena is too small"),
           ("ERR_IO", -104, "the interpreter's input/output tensors differ from this header"),
           ("ERR_INVOKE", -105, "Invoke failed"))


def _byte_lines(data: bytes, per_line: int = 16) -> str:
    if not data:
        return "    0"
    return ",\n".join("    " + ", ".join(f"0x{b:02x}" for b in data[i:i + per_line])
                      for i in range(0, len(data), per_line))


def _round_up(value: int, multiple: int) -> int:
    return -(-int(value) // multiple) * multiple


def generate_tflm(tflite_bytes: bytes, out_dir: Path, labels: list[str], name: str = "model",
                  arena_bytes: int = 0) -> dict:
    """Package an int8 .tflite model for TFLM in out_dir (see the module docstring); return a summary:
    name, files, arena_bytes (as written: the given size rounded up to 16), model_bytes, ops (every
    operator in order), registered_ops (the distinct ones, in resolver order), resolver_methods,
    input/output sizes and quantisation. Raises CodegenError for ops it cannot register."""
    data = bytes(tflite_bytes)
    model = load_model(data)
    if not model.subgraphs:
        raise CodegenError("model has no subgraph")
    if int(arena_bytes) <= 0:
        raise CodegenError(f"tflm codegen needs a positive arena size, got {arena_bytes}")
    ops = model_ops(data)
    methods = resolver_methods(ops)
    io = model_io(model)
    labels = [str(label) for label in (labels or [])]
    if any("\0" in label for label in labels):
        raise CodegenError("labels must not contain NUL characters (C strings end there)")
    if labels and len(labels) != io["output"]["size"]:
        raise CodegenError(f"{len(labels)} labels given for a model with {io['output']['size']} outputs")
    arena = _round_up(arena_bytes, ARENA_ALIGNMENT)
    ident = c_identifier(name)
    p, m = f"mcuforge_{ident}", f"MCUFORGE_{ident.upper()}"
    digest = hashlib.sha256(data).hexdigest()
    files = {
        f"{ident}.h": _header(ident, p, m, digest, io, len(labels), len(data), arena, len(methods)),
        f"{ident}_data.c": _data_source(ident, p, m, digest, data, labels),
        f"{ident}_tflm.h": _tflm_header(ident, p, m, len(methods)),
        f"{ident}_tflm.cc": _tflm_source(ident, p, m, methods),
    }
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for filename, text in files.items():
        with atomic_path(out_dir / filename) as tmp:
            tmp.write_text(text, encoding="ascii")
    return {
        "name": ident,
        "files": sorted(files),
        "arena_bytes": arena,
        "model_bytes": len(data),
        "ops": ops,
        "registered_ops": [op for op, _ in methods],
        "resolver_methods": [method for _, method in methods],
        "input_size": io["input"]["size"],
        "output_size": io["output"]["size"],
        "input_scale": io["input"]["scale"],
        "input_zero_point": io["input"]["zero_point"],
        "output_scale": io["output"]["scale"],
        "output_zero_point": io["output"]["zero_point"],
    }


def _header(ident, p, m, digest, io, n_labels, n_bytes, arena, n_ops) -> str:
    errors = "\n".join(f"#define {m}_{code} ({value}) /* {text} */" for code, value, text in _ERRORS)
    return f"""/* Generated by mcuforge codegen (tflm backend) from a .tflite model with
 * sha256 {digest}. Do not edit.
 *
 * Same API as the native backend: {p}_invoke(input, output) runs the model on
 * {m}_INPUT_SIZE int8 inputs and writes {m}_OUTPUT_SIZE int8 outputs; it returns 0
 * or a negative {m}_ERR_* code. The first call builds the TFLM interpreter over a static
 * arena of {m}_ARENA_BYTES bytes ({ident}_tflm.cc). Not reentrant.
 */
#ifndef {m}_H
#define {m}_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {{
#endif

#define {m}_BACKEND_TFLM 1
#define {m}_INPUT_SIZE {io["input"]["size"]}
#define {m}_OUTPUT_SIZE {io["output"]["size"]}
#define {m}_INPUT_SCALE {c_float_literal(io["input"]["scale"])}
#define {m}_INPUT_ZERO_POINT ({io["input"]["zero_point"]})
#define {m}_OUTPUT_SCALE {c_float_literal(io["output"]["scale"])}
#define {m}_OUTPUT_ZERO_POINT ({io["output"]["zero_point"]})
#define {m}_ARENA_BYTES {arena}
#define {m}_TFLITE_LEN {n_bytes}
#define {m}_NUM_OPS {n_ops}
#define {m}_NUM_LABELS {n_labels}

{errors}

/* The .tflite flatbuffer, {MODEL_ALIGNMENT}-byte aligned ({ident}_data.c). */
extern const unsigned char {p}_tflite[{m}_TFLITE_LEN];
extern const unsigned int {p}_tflite_len;

/* Class names in output order, NULL-terminated. */
extern const char *const {p}_labels[{m}_NUM_LABELS + 1];

int32_t {p}_input_size(void);
int32_t {p}_output_size(void);
int8_t *{p}_input_buffer(void);
int {p}_invoke(const int8_t *input, int8_t *output);

#ifdef __cplusplus
}}
#endif

#endif /* {m}_H */
"""


def _data_source(ident, p, m, digest, data: bytes, labels: list[str]) -> str:
    label_rows = "".join(f"    {c_string_literal(label)},\n" for label in labels)
    return f"""/* Generated by mcuforge codegen (tflm backend). Do not edit.
 * The .tflite model ({len(data)} bytes, sha256 {digest}). */
#include <stddef.h>

#include "{ident}.h"

#if defined(__cplusplus) && __cplusplus >= 201103L
#define MF_MODEL_ALIGN alignas({MODEL_ALIGNMENT})
#elif defined(__GNUC__) || defined(__clang__)
#define MF_MODEL_ALIGN __attribute__((aligned({MODEL_ALIGNMENT})))
#else
#error "no way to align the model array to {MODEL_ALIGNMENT} bytes with this compiler"
#endif

MF_MODEL_ALIGN const unsigned char {p}_tflite[{m}_TFLITE_LEN] = {{
{_byte_lines(data)}
}};

const unsigned int {p}_tflite_len = {m}_TFLITE_LEN;

const char *const {p}_labels[{m}_NUM_LABELS + 1] = {{
{label_rows}    NULL
}};
"""


def _tflm_header(ident, p, m, n_ops) -> str:
    return f"""/* Generated by mcuforge codegen (tflm backend). Do not edit. C++ only. */
#ifndef {m}_TFLM_H
#define {m}_TFLM_H

#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"

#include "{ident}.h"

/* A resolver sized for exactly the builtin ops the model uses. */
typedef tflite::MicroMutableOpResolver<{m}_NUM_OPS> {p}_op_resolver;

/* Register the model's ops (and no others) with `resolver`. */
TfLiteStatus {p}_register_ops({p}_op_resolver &resolver);

#endif /* {m}_TFLM_H */
"""


def _tflm_source(ident, p, m, methods) -> str:
    adds = "".join(f"    if (resolver.{method}() != kTfLiteOk)  /* {op} */\n        return kTfLiteError;\n"
                   for op, method in methods)
    return f"""/* Generated by mcuforge codegen (tflm backend). Do not edit.
 * The C API of {ident}.h on tflite::MicroInterpreter; ops: {", ".join(op for op, _ in methods)}. */
#include <stdint.h>
#include <string.h>

#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"

#include "{ident}.h"
#include "{ident}_tflm.h"

#ifndef TFLITE_SCHEMA_VERSION  /* defined by schema_generated.h or version.h, depending on release */
#define TFLITE_SCHEMA_VERSION 3
#endif

static_assert({m}_NUM_OPS == {len(methods)}, "op count and resolver size differ");

TfLiteStatus {p}_register_ops({p}_op_resolver &resolver)
{{
{adds}    return kTfLiteOk;
}}

namespace {{

alignas({ARENA_ALIGNMENT}) uint8_t tensor_arena[{m}_ARENA_BYTES];
tflite::MicroInterpreter *interpreter = nullptr;
int init_status = 1; /* 1: not tried yet, then 0 or a {m}_ERR_* code */

int init_interpreter()
{{
    const tflite::Model *model = tflite::GetModel({p}_tflite);
    if (model->version() != TFLITE_SCHEMA_VERSION)
        return {m}_ERR_SCHEMA;
    static {p}_op_resolver resolver;
    if ({p}_register_ops(resolver) != kTfLiteOk)
        return {m}_ERR_OPS;
    static tflite::MicroInterpreter static_interpreter(model, resolver, tensor_arena, sizeof(tensor_arena));
    if (static_interpreter.AllocateTensors() != kTfLiteOk)
        return {m}_ERR_ARENA;
    TfLiteTensor *in = static_interpreter.input(0);
    TfLiteTensor *out = static_interpreter.output(0);
    if (in == nullptr || out == nullptr || in->type != kTfLiteInt8 || out->type != kTfLiteInt8 ||
        in->bytes != (size_t){m}_INPUT_SIZE || out->bytes != (size_t){m}_OUTPUT_SIZE)
        return {m}_ERR_IO;
    interpreter = &static_interpreter;
    return 0;
}}

int ensure_interpreter()
{{
    if (init_status == 1)
        init_status = init_interpreter();
    return init_status;
}}

}}  // namespace

int32_t {p}_input_size(void)
{{
    return {m}_INPUT_SIZE;
}}

int32_t {p}_output_size(void)
{{
    return {m}_OUTPUT_SIZE;
}}

int8_t *{p}_input_buffer(void)
{{
    if (ensure_interpreter() != 0)
        return nullptr;
    return interpreter->input(0)->data.int8;
}}

int {p}_invoke(const int8_t *input, int8_t *output)
{{
    if (input == nullptr || output == nullptr)
        return {m}_ERR_NULL;
    int status = ensure_interpreter();
    if (status != 0)
        return status;
    int8_t *slot = interpreter->input(0)->data.int8;
    if (input != slot)
        memcpy(slot, input, {m}_INPUT_SIZE);
    if (interpreter->Invoke() != kTfLiteOk)
        return {m}_ERR_INVOKE;
    memcpy(output, interpreter->output(0)->data.int8, {m}_OUTPUT_SIZE);
    return 0;
}}
"""
