"""Import TensorFlow the one way that works with tfmot: legacy tf_keras, seeded, deterministic ops,
and without TensorFlow's native log noise on the stage's stderr.

TensorFlow's C++ side writes to file descriptor 2 directly: absl INFO lines at import (oneDNN,
CUDA stubs) whatever TF_CPP_MIN_LOG_LEVEL says, `E0000 … failed call to cuInit` on a machine
without a GPU, `NodeDef mentions attribute use_unbounded_threadpool` on every fit, and the
converter's `fully_quantize: 0, inference_type: 6 …`. `quiet_native_stderr` routes fd 2 through
a small filter process that drops exactly the lines matching NOISE and passes everything else
(Python warnings, tracebacks, real TensorFlow errors) through unchanged, line by line. The filter
is a separate process so that lines written just before a crash still reach the terminal.
"""
from __future__ import annotations

import atexit
import os
import subprocess
import sys

NOISE = "|".join([
    r"^WARNING: All log messages before absl::InitializeLog\(\) is called",
    r"^I\d{4} ",                                  # absl INFO lines: never warnings
    r"^To enable the following instructions: ",   # continuation of cpu_feature_guard's INFO
    r"^E\d{4} .*failed call to cuInit",           # no GPU on this machine: expected
    r"^E\d{4} .*NodeDef mentions attribute use_unbounded_threadpool",  # tf.data version skew
    r"^W\d{4} .*(Ignored output_format|Ignored drop_control_dependency"
    r"|Skipping runtime version metadata)",       # TFLite converter chatter
    r"^fully_quantize: \d+, inference_type: \d+",  # the MLIR quantizer's printf
])
FILTER = ("import re, sys\n"
          "noise = re.compile(sys.argv[1].encode())\n"
          "for line in sys.stdin.buffer:\n"
          "    if not noise.search(line):\n"
          "        sys.stderr.buffer.write(line)\n"
          "        sys.stderr.buffer.flush()\n")
_filter: subprocess.Popen | None = None


def import_tf(seed: int, quiet: bool = True):
    """Returns (tf, keras). Call before anything else imports TensorFlow or tfmot. quiet=True
    filters TensorFlow's native log noise from stderr for the rest of the process."""
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if quiet:
        quiet_native_stderr()
    import tensorflow as tf
    import tf_keras as keras

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    return tf, keras


def quiet_native_stderr() -> None:
    """Point fd 2 (C and Python writers, and child processes) at the NOISE filter; at exit the
    original stderr comes back and the filter is waited for, so no line arrives late."""
    global _filter
    if _filter is not None:
        return
    sys.stderr.flush()
    original = os.dup(2)
    _filter = subprocess.Popen([sys.executable, "-c", FILTER, NOISE], stdin=subprocess.PIPE,
                               stdout=subprocess.DEVNULL, stderr=original)
    os.dup2(_filter.stdin.fileno(), 2)
    _filter.stdin.close()          # fd 2 is now the pipe's only writer in this process

    def restore() -> None:
        sys.stderr.flush()
        os.dup2(original, 2)       # closes the pipe: the filter reads EOF and exits
        try:
            _filter.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _filter.kill()

    atexit.register(restore)
