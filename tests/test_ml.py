"""Model-side library code: the distillation loss, architectures, pruning, int8 conversion and the
TFLM arena probe (TensorFlow imported once per module)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from mcuforge.errors import McuforgeError
from mcuforge.ml.tf_setup import import_tf
from mcuforge.codegen.tflm_runtime import predict_classes, probe_arena_bytes, run_int8

tf, keras = import_tf(0, quiet=False)   # pytest captures fd 2 itself; the filter is tested below

from mcuforge.ml.architectures import build_model  # noqa: E402
from mcuforge.ml.losses import distillation_loss, pack_targets, packed_accuracy  # noqa: E402
from mcuforge.ml.pruning_magnitude import kernel_sparsity, wrap_for_pruning  # noqa: E402
from mcuforge.ml.quantization import convert_int8  # noqa: E402
from mcuforge.ml import training  # noqa: E402

PROJECT = Path(__file__).resolve().parents[1]

CNN = {"arch": "cnn1d", "conv": [{"filters": 4, "kernel": 3, "pool": 2}], "dense": [8], "dropout": 0.0}


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_distillation_loss_equals_its_formula():
    rng = np.random.default_rng(0)
    labels, teacher, student = rng.integers(0, 4, 5), rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    temperature, alpha = 3.0, 0.6
    got = distillation_loss(tf, temperature, alpha)(
        tf.constant(pack_targets(labels, teacher.astype(np.float32), 4)), tf.constant(student, tf.float32))
    hard = -np.log(softmax(student)[np.arange(5), labels])
    p, q = softmax(teacher / temperature), softmax(student / temperature)
    kl = np.sum(p * (np.log(p) - np.log(q)), axis=1)
    np.testing.assert_allclose(got.numpy(), (1 - alpha) * hard + alpha * temperature**2 * kl, rtol=1e-4)


def test_alpha_zero_is_plain_cross_entropy():
    labels, student = np.array([1, 0]), np.array([[0.2, 1.0], [3.0, -1.0]], np.float32)
    got = distillation_loss(tf, 4.0, 0.0)(tf.constant(pack_targets(labels, None, 2)), tf.constant(student))
    np.testing.assert_allclose(got.numpy(), -np.log(softmax(student)[[0, 1], labels]), rtol=1e-5)


def test_cnn_needs_windows_and_unknown_arch_is_named():
    with pytest.raises(McuforgeError, match="use features=raw, or model=dense"):
        build_model(keras, CNN, (54,), 7, "teacher")
    with pytest.raises(McuforgeError, match=r"model.student.arch='lstm' is unknown"):
        build_model(keras, {"arch": "lstm"}, (100, 6), 7, "student")


def test_pruning_reaches_the_target_sparsity():
    import tensorflow_model_optimization as tfmot

    model = build_model(keras, CNN, (20, 3), 3, "student")
    x = np.random.default_rng(0).normal(size=(64, 20, 3)).astype(np.float32)
    y = pack_targets(np.arange(64) % 3, None, 3)
    cfg = {"sparsity": 0.7, "initial_sparsity": 0.0, "epochs": 2, "ramp_fraction": 0.5, "lr": 0.01}
    wrapped = wrap_for_pruning(keras, tfmot, model, cfg, steps_per_epoch=4)
    wrapped.compile(optimizer=keras.optimizers.Adam(0.01), loss=distillation_loss(tf, 1.0, 0.0))
    wrapped.fit(x, y, batch_size=16, epochs=2, verbose=0,
                callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    stripped = tfmot.sparsity.keras.strip_pruning(wrapped)
    assert kernel_sparsity(keras, stripped) == pytest.approx(0.7, abs=0.02)


@pytest.fixture(scope="module")
def int8_model(tmp_path_factory):
    model = build_model(keras, CNN, (20, 3), 3, "student")
    x = np.random.default_rng(1).normal(size=(32, 20, 3)).astype(np.float32)
    path = tmp_path_factory.mktemp("tflite") / "m.tflite"
    path.write_bytes(convert_int8(tf, model, x))
    return path, model, x


def test_int8_model_follows_the_float_model(int8_model):
    path, model, x = int8_model
    logits, classes = predict_classes(path.read_bytes(), x)
    assert logits.dtype == np.int8 and logits.shape == (32, 3)
    assert np.mean(classes == model.predict(x, verbose=0).argmax(axis=1)) >= 0.9


def test_probed_arena_is_the_smallest_that_runs(int8_model):
    path, _, x = int8_model
    arena = probe_arena_bytes(path, granularity=16)
    assert arena["allocated"] > 0 and arena["minimal"] >= arena["allocated"] - 16
    model = path.read_bytes()
    assert run_int8(model, np.zeros((1, 20, 3), np.int8), arena["minimal"]).shape == (1, 3)


def test_prune_preserving_qat_keeps_zeros_and_converts():
    import tensorflow_model_optimization as tfmot

    from mcuforge.ml.quantization import prune_preserving_qat_model

    model = build_model(keras, CNN, (20, 3), 3, "student")
    weights = model.get_weights()
    weights[0][..., :2] = 0.0  # zero two input channels of the first convolution
    model.set_weights(weights)
    before = kernel_sparsity(keras, model)
    qat = prune_preserving_qat_model(tfmot, model)
    x = np.random.default_rng(2).normal(size=(32, 20, 3)).astype(np.float32)
    qat.compile(optimizer=keras.optimizers.Adam(0.01), loss=distillation_loss(tf, 1.0, 0.0))
    qat.fit(x, pack_targets(np.arange(32) % 3, None, 3), epochs=1, verbose=0)
    kernels = [w for w in qat.get_weights() if w.ndim == 4]
    assert np.all(kernels[0][..., :2] == 0) and before > 0
    assert predict_classes(convert_int8(tf, qat, x), x)[0].shape == (32, 3)


def test_fit_prints_a_line_per_epoch_and_trains_as_without_it(capsys):
    x = np.random.default_rng(3).normal(size=(48, 20, 3)).astype(np.float32)
    y = pack_targets(np.arange(48) % 3, None, 3)
    cfg = {"lr": 0.01, "epochs": 3, "batch_size": 16}

    keras.utils.set_random_seed(5)
    model = build_model(keras, CNN, (20, 3), 3, "student")
    history = training.fit(tf, keras, model, (x, y), (x[:12], y[:12]), cfg,
                           distillation_loss(tf, 1.0, 0.0), early_stopping=False, label="distill")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 == len(history)
    for epoch, (line, row) in enumerate(zip(lines, history), start=1):
        assert re.fullmatch(rf"distill epoch {epoch}/3  loss \d+\.\d{{3}}  acc \d\.\d{{3}}  "
                            r"val_acc \d\.\d{3}  \d+\.\d s", line), line
        assert f"loss {row['loss']:.3f}" in line and f"val_acc {row['val_accuracy']:.3f}" in line

    keras.utils.set_random_seed(5)                     # the same run with Keras' own fit, no callback
    plain = build_model(keras, CNN, (20, 3), 3, "student")
    plain.compile(optimizer=keras.optimizers.Adam(0.01), loss=distillation_loss(tf, 1.0, 0.0),
                  metrics=[packed_accuracy(tf)])
    plain.fit(x, y, validation_data=(x[:12], y[:12]), epochs=3, batch_size=16, shuffle=True, verbose=0)
    for mine, theirs in zip(model.get_weights(), plain.get_weights(), strict=True):
        assert np.array_equal(mine, theirs)



def test_cosine_lr_schedule_decays_to_zero_over_the_epochs_and_bad_values_are_named():
    x = np.random.default_rng(4).normal(size=(48, 20, 3)).astype(np.float32)
    y = pack_targets(np.arange(48) % 3, None, 3)
    cfg = {"lr": 0.01, "epochs": 3, "batch_size": 16, "lr_schedule": "cosine"}   # 3 steps per epoch
    keras.utils.set_random_seed(5)
    model = build_model(keras, CNN, (20, 3), 3, "student")
    training.fit(tf, keras, model, (x, y), (x[:12], y[:12]), cfg, distillation_loss(tf, 1.0, 0.0),
                 early_stopping=False, group="distill")
    schedule = training.learning_rate(keras, cfg, 3, "distill")
    assert [round(float(schedule(step)), 6) for step in (0, 3, 6, 9)] == [0.01, 0.0075, 0.0025, 0.0]
    # 9 steps taken; the last one (step 8) at 3 % of the initial rate
    assert int(model.optimizer.iterations) == 9
    assert float(model.optimizer.learning_rate) == pytest.approx(float(schedule(8)))
    assert float(schedule(8)) < 0.0004

    keras.utils.set_random_seed(5)                     # the same run with Keras' own fit and schedule
    plain = build_model(keras, CNN, (20, 3), 3, "student")
    plain.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(0.01, 9)),
                  loss=distillation_loss(tf, 1.0, 0.0), metrics=[packed_accuracy(tf)])
    plain.fit(x, y, validation_data=(x[:12], y[:12]), epochs=3, batch_size=16, shuffle=True, verbose=0)
    for mine, theirs in zip(model.get_weights(), plain.get_weights(), strict=True):
        assert np.array_equal(mine, theirs)
    with pytest.raises(McuforgeError, match=r"prune.lr_schedule='step' is not one of constant, cosine; "
                                            r"set it in conf/prune/"):
        training.learning_rate(keras, {**cfg, "lr_schedule": "step"}, 3, "prune")


NOISY_STAGE = textwrap.dedent("""
    import os, sys, warnings
    import numpy as np
    from mcuforge.ml.tf_setup import import_tf
    tf, keras = import_tf(0, quiet=sys.argv[1] == "quiet")
    from mcuforge.ml.quantization import convert_int8
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile("adam", "mse")
    x = np.ones((8, 4), np.float32)
    model.fit(x, np.zeros((8, 2)), validation_data=(x, np.zeros((8, 2))), epochs=1, verbose=0)
    convert_int8(tf, model, x)
    os.write(2, b"E0000 00:00:1.0 42 real.cc:1] a real native error\\n")
    warnings.warn("a real Python warning")
    print("stdout stays", flush=True)
""")
NOISE_MARKS = ("cuInit", "use_unbounded_threadpool", "fully_quantize:", "I0000 ",
               "absl::InitializeLog")


@pytest.mark.parametrize("mode", ["quiet", "loud"])
def test_tensorflow_noise_is_filtered_and_real_messages_pass(mode):
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    result = subprocess.run([sys.executable, "-c", NOISY_STAGE, mode], env=env, cwd=PROJECT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout == "stdout stays\n"
    assert "a real native error" in result.stderr and "UserWarning: a real Python warning" in result.stderr
    noise = [line for line in result.stderr.splitlines() if any(m in line for m in NOISE_MARKS)]
    if mode == "quiet":
        assert noise == []
    else:  # without the filter this machine's TensorFlow does print them: the test can fail
        assert any("fully_quantize" in line for line in noise) and any("I0000" in line for line in noise)
