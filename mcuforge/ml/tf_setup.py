"""Import TensorFlow the one way that works with tfmot: legacy tf_keras, seeded, deterministic ops."""
from __future__ import annotations

import os


def import_tf(seed: int):
    """Returns (tf, keras). Call before anything else imports TensorFlow or tfmot."""
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    import tf_keras as keras

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    return tf, keras
