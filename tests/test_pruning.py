"""Channel pruning (prune.method=channels) and the magnitude option on tiny hand-built models: which
channels go, that the rebuilt model is the original with those channels zeroed, the MAC target and
floors, config errors, determinism; and prune.method=magnitude still reaching its sparsity."""
from __future__ import annotations

import numpy as np
import pytest

from mcuforge.errors import McuforgeError
from mcuforge.ml.tf_setup import import_tf

tf, keras = import_tf(0, quiet=False)

from mcuforge.ml import training  # noqa: E402
from mcuforge.ml.architectures import build_model  # noqa: E402
from mcuforge.ml.channel_chain import chain, cost  # noqa: E402
from mcuforge.ml.datasets import Features, Split  # noqa: E402
from mcuforge.ml.losses import distillation_loss, pack_targets  # noqa: E402
from mcuforge.ml.model_file import load_model, save_model  # noqa: E402
from mcuforge.ml.pruning_channels import plan, prune_channels, rebuild, validate  # noqa: E402
from mcuforge.ml.pruning_magnitude import kernel_sparsity, prune_magnitude  # noqa: E402

CNN = {"arch": "cnn1d", "conv": [{"filters": 6, "kernel": 3, "pool": 2}, {"filters": 8, "kernel": 3, "pool": 1}],
       "dense": [5], "dropout": 0.0}
CFG = {"method": "channels", "target": "macs", "keep": 0.5, "floor": 0.25, "per_layer": None, "saliency": "l1",
       "epochs": 2, "batch_size": 16, "lr": 0.01, "patience": None, "rounds": 1}
SHAPE, CLASSES = (16, 3), 3


def model_of(arch, seed=0):
    keras.utils.set_random_seed(seed)
    model = build_model(keras, arch, SHAPE, CLASSES, "student")
    rng = np.random.default_rng(seed)
    for layer in model.layers:   # random non-trivial BN statistics too, so the test sees them copied
        layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(np.float32) if "moving_variance" in v.name
                           else rng.normal(size=w.shape).astype(np.float32)
                           for w, v in zip(layer.get_weights(), layer.weights)])
    return model


def x_of(n=32, seed=1):
    return np.random.default_rng(seed).normal(size=(n, *SHAPE)).astype(np.float32)


def test_lowest_saliency_channels_go():
    model = model_of(CNN)
    units = chain(keras, model)
    first = model.layers[units[0].index]
    kernel, bias = first.get_weights()
    scale = np.array([5, 0.1, 3, 0.2, 4, 0.3], np.float32)   # L1 norm order: 1, 3, 5 lowest
    kernel = np.sign(kernel) * scale / kernel[..., 0].size   # |w| equal within a filter: L1 = scale
    first.set_weights([kernel, bias])
    _, keep = plan(keras, model, {**CFG, "per_layer": [0.5, 1.0, 1.0]})
    assert keep[0].tolist() == [0, 2, 4] and keep[1].tolist() == list(range(8))
    _, keep_l2 = plan(keras, model, {**CFG, "saliency": "l2", "per_layer": [0.5, 1.0, 1.0]})
    assert keep_l2[0].tolist() == [0, 2, 4]


def test_bn_saliency_uses_gamma():
    model = model_of({**CNN, "batch_norm": True})
    units = chain(keras, model)
    bn = model.layers[units[1].bn]
    gamma, *rest = bn.get_weights()
    bn.set_weights([np.array([1, -9, 0.01, 2, -0.02, 3, 0.5, 4], np.float32), *rest])
    _, keep = plan(keras, model, {**CFG, "saliency": "bn", "per_layer": [1.0, 0.5, 1.0]})
    assert keep[1].tolist() == [1, 3, 5, 7]


@pytest.mark.parametrize("batch_norm", [False, True])
def test_rebuilt_model_equals_original_with_removed_channels_zeroed(batch_norm, tmp_path):
    arch = {**CNN, "batch_norm": batch_norm}
    model = model_of(arch)
    units, keep = plan(keras, model, CFG)
    small, small_arch = rebuild(keras, model, arch, units, keep)
    assert [b["filters"] for b in small_arch["conv"]] + small_arch["dense"] == [len(k) for k in keep]
    for unit, kept in zip(units[:-1], keep):
        removed = np.setdiff1d(np.arange(unit.width), kept)
        layer = model.layers[unit.index]
        kernel, bias = layer.get_weights()
        kernel[..., removed], bias[removed] = 0, 0
        layer.set_weights([kernel, bias])
        if unit.bn is not None:   # BN(0) = beta - gamma·mean/σ: zero gamma and beta so the channel is 0
            gamma, beta, mean, var = model.layers[unit.bn].get_weights()
            gamma[removed], beta[removed] = 0, 0
            model.layers[unit.bn].set_weights([gamma, beta, mean, var])
    x = x_of()
    np.testing.assert_allclose(small.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    save_model(tmp_path / "pruned.npz", small, small_arch)
    data = Features(*(Split(x, np.zeros(len(x), int)),) * 3, labels=list("abc"), input_shape=SHAPE)
    loaded, loaded_arch = load_model(keras, data, "student", tmp_path / "pruned.npz")
    assert loaded_arch == small_arch
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), small.predict(x, verbose=0))


def test_mac_target_and_floors_are_honoured():
    model = model_of(CNN)
    units = chain(keras, model)
    full = [u.width for u in units[:-1]]
    # MACs by hand: conv 16·3·3·6, pool → 8, conv 8·3·6·8, GAP, dense 8·5, logits 5·3
    assert cost(units, full) == 16 * 3 * 3 * 6 + 8 * 3 * 6 * 8 + 8 * 5 + 5 * 3
    assert cost(units, full, "params") == (3 * 3 * 6 + 6) + (3 * 6 * 8 + 8) + (8 * 5 + 5) + (5 * 3 + 3)
    assert cost(units, full, "params") == model.count_params()
    for keep, floor, target in ((0.5, 0.25, "macs"), (0.4, 0.5, "macs"), (0.6, 0.0, "params")):
        _, kept = plan(keras, model, {**CFG, "keep": keep, "floor": floor, "target": target})
        widths = [len(k) for k in kept]
        assert cost(units, widths, target) <= keep * cost(units, full, target)
        assert all(w >= max(1, np.ceil(floor * u.width)) for w, u in zip(widths, units))
        # greedy stops as soon as the target is met: putting back any one removed channel breaks it
        # or a floor was what stopped it
        assert any(cost(units, [w + (i == j) for j, w in enumerate(widths)], target) >
                   keep * cost(units, full, target) for i in range(len(widths)) if widths[i] < full[i])


@pytest.mark.parametrize("change, field", [
    ({"saliency": "l3"}, "prune.saliency='l3'"), ({"target": "flops"}, "prune.target='flops'"),
    ({"keep": 1.5}, "prune.keep=1.5"), ({"keep": 0}, "prune.keep=0"), ({"floor": -0.1}, "prune.floor=-0.1"),
    ({"per_layer": [0.5, 2]}, r"prune.per_layer\[1\]=2"), ({"epochs": 0}, "prune.epochs=0"),
    ({"rounds": 0}, "prune.rounds=0")])
def test_bad_config_is_rejected_naming_the_field(change, field):
    with pytest.raises(McuforgeError, match=field):
        validate({**CFG, **change})


def test_unreachable_target_and_wrong_per_layer_length_are_named():
    model = model_of(CNN)
    with pytest.raises(McuforgeError, match=r"prune.keep=0.05 cannot be reached with prune.floor=0.5"):
        plan(keras, model, {**CFG, "keep": 0.05, "floor": 0.5})
    with pytest.raises(McuforgeError, match="prune.per_layer has 2 fractions but the student has 3 hidden"):
        plan(keras, model, {**CFG, "per_layer": [0.5, 0.5]})


def fine_tuned_bytes(path) -> bytes:
    model, x = model_of(CNN), x_of(48)
    targets = pack_targets(np.arange(48) % CLASSES, model.predict(x, verbose=0), CLASSES)
    keras.utils.set_random_seed(0)
    small, arch, report = prune_channels(tf, keras, model, CNN, (x, targets), (x, targets), CFG,
                                         distillation_loss(tf, 2.0, 0.5), lambda m: 0.0)
    save_model(path, small, arch)
    assert report["macs_after"] <= 0.5 * report["macs_before"]
    assert sum(c["after"] for c in report["channels"].values()) < sum(c["before"] for c in report["channels"].values())
    return path.read_bytes()


@pytest.mark.parametrize("per_layer", [None, [0.5, 0.5, 0.4]])
def test_iterative_rounds_cut_in_steps_to_the_same_target(per_layer):
    """prune.rounds=2: the first round keeps about sqrt(keep), the second reaches keep; floors and
    per_layer fractions stay fractions of the original widths."""
    model, x = model_of(CNN), x_of(48)
    targets = pack_targets(np.arange(48) % CLASSES, model.predict(x, verbose=0), CLASSES)
    cfg = {**CFG, "keep": 0.36, "floor": 0.34, "rounds": 2, "per_layer": per_layer}
    small, arch, report = prune_channels(tf, keras, model, CNN, (x, targets), (x, targets), cfg,
                                         distillation_loss(tf, 2.0, 0.5), lambda m: 0.5)
    first, second = (r["macs_ratio"] for r in report["rounds"])
    widths = [c["after"] for c in report["channels"].values()]
    assert [b["filters"] for b in arch["conv"]] + arch["dense"] == widths
    if per_layer is None:
        assert 0.36 < first <= 0.6 and second <= 0.36
        assert report["macs_after"] <= 0.36 * report["macs_before"]
        assert all(w >= np.ceil(0.34 * c["before"]) for w, c in zip(widths, report["channels"].values()))
    else:
        assert widths == [3, 4, 2] and first > second
    assert second == report["macs_ratio"]
    assert report["rounds"][0]["test_accuracy_before_finetune"] == report["test_accuracy_before_finetune"] == 0.5


def test_same_seed_same_pruned_npz(tmp_path):
    assert fine_tuned_bytes(tmp_path / "a.npz") == fine_tuned_bytes(tmp_path / "b.npz")


def test_magnitude_option_still_reaches_its_sparsity():
    model, x = model_of(CNN), x_of(64)
    targets = pack_targets(np.arange(64) % CLASSES, None, CLASSES)
    cfg = {"method": "magnitude", "sparsity": 0.6, "initial_sparsity": 0.0, "epochs": 2, "batch_size": 16,
           "lr": 0.01, "ramp_fraction": 0.5}
    pruned, fields = prune_magnitude(tf, keras, model, (x, targets), (x, targets), cfg,
                                     distillation_loss(tf, 1.0, 0.0))
    assert fields == {"target_sparsity": 0.6}
    assert kernel_sparsity(keras, pruned) == pytest.approx(0.6, abs=0.03)
    assert [w.shape for w in pruned.get_weights()] == [w.shape for w in model.get_weights()]


def test_unprunable_layer_is_named():
    inputs = keras.Input((8,))
    hidden = keras.layers.Dense(4)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Reshape((2, 2))(hidden)))
    with pytest.raises(McuforgeError, match=r"layer reshape.* \(Reshape\) does not pass channels.*prune=magnitude"):
        chain(keras, model)
