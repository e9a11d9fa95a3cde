"""prune: shrink the distilled student, fine-tuned with the distillation loss (prune.method):
channels (default) removes whole filters and Dense units by saliency down to prune.keep of the MACs
or parameters and rebuilds a smaller model (mcuforge.ml.pruning_channels); magnitude zeroes
prune.sparsity of every kernel with tfmot and keeps the shape (mcuforge.ml.pruning_magnitude).

Writes models/pruned.npz (weights and the pruned architecture), reports/prune.json.
"""
from __future__ import annotations

from mcuforge import atomic
from mcuforge.errors import McuforgeError, stage_main
from mcuforge.ml.datasets import load_features
from mcuforge.params import load_params

METHODS = ("channels", "magnitude")


@stage_main
def main() -> None:
    params = load_params()
    cfg, distill, arch = params["prune"], params["distill"], params["model"]["student"]
    if cfg.get("method") not in METHODS:
        raise McuforgeError(f"prune.method={cfg.get('method')!r} is unknown; choose one of {', '.join(METHODS)}")
    from mcuforge.ml.tf_setup import import_tf

    tf, keras = import_tf(params["seed"])
    from mcuforge.ml import training
    from mcuforge.ml.channel_chain import chain
    from mcuforge.ml.losses import distillation_loss
    from mcuforge.ml.model_file import save_model
    from mcuforge.ml.pruning_channels import prune_channels, summary
    from mcuforge.ml.pruning_magnitude import kernel_sparsity, prune_magnitude

    data = load_features()
    models = {role: training.load_trained(keras, params["model"][role], data, role, f"models/{role}.npz")
              for role in ("teacher", "student")}
    targets = training.distillation_targets(models["teacher"], data)
    train, val = (data.train.x, targets["train"]), (data.val.x, targets["val"])
    loss = distillation_loss(tf, distill["temperature"], distill["alpha"])

    def score(model) -> float:
        return training.accuracy(model, data.test.x, data.test.y)

    student_accuracy = score(models["student"])
    if cfg["method"] == "channels":
        pruned, arch, fields = prune_channels(tf, keras, models["student"], arch, train, val, cfg, loss, score)
    else:
        pruned, fields = prune_magnitude(tf, keras, models["student"], train, val, cfg, loss)
        try:  # the MAC summary walks a channel chain, which a DS-CNN's depthwise layers do not form
            units = chain(keras, models["student"])
            fields = {**summary(units, [range(u.width) for u in units[:-1]]), **fields}
        except McuforgeError:
            n = int(models["student"].count_params())
            fields = {"params_before": n, "params_after": n, **fields}
    save_model("models/pruned.npz", pruned, arch)
    report = {"method": cfg["method"], **fields, "sparsity": round(kernel_sparsity(keras, pruned), 6),
              "test_accuracy": score(pruned), "student_test_accuracy": student_accuracy}
    atomic.write_json("reports/prune.json", report)
    macs = f"MACs {report['macs_after']:,} of {report['macs_before']:,}, " if "macs_after" in report else ""
    print(f"prune ({cfg['method']}): {macs}parameters "
          f"{report['params_after']:,} of {report['params_before']:,}, kernel sparsity {report['sparsity']:.3f}, "
          f"test accuracy {report['test_accuracy']:.3f} (student before pruning {student_accuracy:.3f}) "
          "-> models/pruned.npz")


if __name__ == "__main__":
    main()
