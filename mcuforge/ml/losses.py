"""Losses on packed targets: column 0 the class index, columns 1.. the teacher's logits.

Packing the teacher's logits into the targets (computed once: inputs are not augmented) makes
distillation an ordinary Keras loss, so the same model works with tfmot's pruning wrappers.
"""
from __future__ import annotations

import numpy as np


def pack_targets(labels: np.ndarray, teacher_logits: np.ndarray | None, n_classes: int) -> np.ndarray:
    if teacher_logits is None:
        teacher_logits = np.zeros((len(labels), n_classes), np.float32)
    return np.concatenate([labels.reshape(-1, 1).astype(np.float32), teacher_logits], axis=1)


def distillation_loss(tf, temperature: float, alpha: float):
    """(1 - alpha) · CE(labels, student) + alpha · T² · KL(softmax(teacher/T) ‖ softmax(student/T))."""

    def loss(packed, student_logits):
        labels = tf.cast(packed[:, 0], tf.int32)
        hard = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=student_logits)
        if alpha == 0:
            return hard
        teacher_soft = tf.nn.softmax(packed[:, 1:] / temperature)
        student_log_soft = tf.nn.log_softmax(student_logits / temperature)
        kl = tf.reduce_sum(teacher_soft * (tf.math.log(teacher_soft + 1e-12) - student_log_soft), axis=-1)
        return (1.0 - alpha) * hard + alpha * temperature**2 * kl

    return loss


def packed_accuracy(tf):
    def accuracy(packed, logits):
        labels = tf.cast(packed[:, 0], tf.int64)
        return tf.cast(tf.equal(tf.argmax(logits, axis=-1), labels), tf.float32)

    return accuracy
