"""The search space of `mcuforge tune`, read from conf/tune/<space>.yaml and checked before any trial.

    space = load_space(Path("conf/tune/default.yaml"), Path("conf"))
    overrides = space.suggest(optuna_trial)      # ["features.window_ms=2000", "model=dense", ...]

Each entry of `params:` is one Optuna parameter:
- `key: {choice: [a, b]}`            -> `key=<value>` (a Hydra override value: number, word, list literal)
- `key: {low: L, high: H, step: S}`  -> ints, or floats on the grid L, L+S, ..., H (rounded to 10 digits)
- `label: {bundles: {name: [override, ...]}}` -> the named list of overrides (coupled choices, such as a
  feature block with the model that reads it)
Checked: the file's fields, each entry's form, and every override against conf/ with Hydra (the key
must exist in the composed config, a group value must be a file): an error names the file and key.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from mcuforge.errors import McuforgeError

SAMPLERS = ("nsga2", "tpe")
FIELDS = {"sampler", "seed", "population_size", "params"}


@dataclass(frozen=True)
class Param:
    key: str
    choices: tuple = ()                 # choice values, or bundle names
    bundles: dict | None = None         # bundle name -> tuple of overrides
    low: float | None = None
    high: float | None = None
    step: float | None = None

    def suggest(self, trial) -> list[str]:
        if self.bundles is not None:
            return list(self.bundles[trial.suggest_categorical(self.key, list(self.choices))])
        if self.choices:
            return [f"{self.key}={trial.suggest_categorical(self.key, list(self.choices))}"]
        if all(float(v).is_integer() for v in (self.low, self.high, self.step)):
            return [f"{self.key}={trial.suggest_int(self.key, int(self.low), int(self.high), step=int(self.step))}"]
        value = round(trial.suggest_float(self.key, self.low, self.high, step=self.step), 10)
        return [f"{self.key}={value!r}"]

    def overrides_to_check(self) -> list[list[str]]:
        if self.bundles is not None:
            return [list(b) for b in self.bundles.values()]
        if self.choices:
            return [[f"{self.key}={v}"] for v in self.choices]
        return [[f"{self.key}={self.low!r}"], [f"{self.key}={self.high!r}"]]


@dataclass(frozen=True)
class Space:
    path: Path
    sampler: str
    seed: int
    population_size: int
    params: tuple[Param, ...]
    digest: str                         # sha256 of the file: a study keeps the space it began with

    def suggest(self, trial) -> list[str]:
        return [o for p in self.params for o in p.suggest(trial)]


def _number(path: Path, key: str, field: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise McuforgeError(f"{path}: params.{key}.{field} = {value!r}: must be a number")
    return value


def parse_param(path: Path, key: str, spec) -> Param:
    where = f"{path}: params.{key}"
    if not isinstance(spec, dict) or len(spec.keys() & {"choice", "bundles", "low"}) != 1:
        raise McuforgeError(f"{where} = {spec!r}: give exactly one of {{choice: [...]}}, "
                            f"{{low: L, high: H, step: S}} or {{bundles: {{name: [overrides]}}}}")
    unknown = set(spec) - {"choice", "bundles", "low", "high", "step"}
    if unknown:
        raise McuforgeError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    if "choice" in spec:
        choices = spec["choice"]
        if not isinstance(choices, list) or not choices or len(set(map(repr, choices))) != len(choices) \
                or any(isinstance(c, (dict, list)) or c is None for c in choices):
            raise McuforgeError(f"{where}.choice = {choices!r}: must be a list of distinct values (numbers, "
                                f"words, or quoted Hydra literals such as \"[8,16]\")")
        return Param(key, choices=tuple(choices))
    if "bundles" in spec:
        bundles = spec["bundles"]
        if not isinstance(bundles, dict) or not bundles or not all(
                isinstance(v, list) and all(isinstance(o, str) and "=" in o for o in v) for v in bundles.values()):
            raise McuforgeError(f"{where}.bundles = {bundles!r}: must map names to lists of overrides "
                                f"(\"key=value\" or \"group=option\"; [] = the defaults)")
        return Param(key, choices=tuple(map(str, bundles)), bundles={str(k): tuple(v) for k, v in bundles.items()})
    low, high = (_number(path, key, f, spec.get(f)) for f in ("low", "high"))
    step = _number(path, key, "step", spec.get("step", 1))
    if not low < high or step <= 0 or abs((high - low) / step - round((high - low) / step)) > 1e-9:
        raise McuforgeError(f"{where}: low {low!r}, high {high!r}, step {step!r}: need low < high, step > 0 "
                            f"and high - low a whole number of steps")
    return Param(key, low=low, high=high, step=step)


def check_overrides(path: Path, key: str, overrides: list[str], conf_dir: Path) -> None:
    """Compose conf/ with these overrides as `dvc exp run -S` would; Hydra's complaint names the key."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        with initialize_config_dir(config_dir=str(conf_dir.resolve()), version_base="1.3"):
            compose(config_name="config", overrides=overrides)
    except (HydraException, OmegaConfBaseException) as err:
        cause = str(err.__cause__).splitlines()[0] if err.__cause__ else ""
        lines = [line.strip() for line in str(err).split("Config search path")[0].splitlines() if line.strip()]
        raise McuforgeError(f"{path}: params.{key}: {' '.join(overrides)} does not compose with "
                            f"{conf_dir}/: {' '.join([*lines, cause]).strip()}") from err


def load_space(path: Path, conf_dir: Path = Path("conf")) -> Space:
    if not path.is_file():
        options = ", ".join(sorted(p.stem for p in path.parent.glob("*.yaml"))) or "none"
        raise McuforgeError(f"--space: {path} not found; spaces in {path.parent}/: {options}")
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise McuforgeError(f"{path}: not valid YAML: {err}") from err
    if not isinstance(data, dict) or not isinstance(data.get("params"), dict) or not data["params"]:
        raise McuforgeError(f"{path}: needs a `params:` mapping of at least one parameter")
    unknown = set(data) - FIELDS
    if unknown:
        raise McuforgeError(f"{path}: unknown field(s) {', '.join(sorted(unknown))}; "
                            f"known: {', '.join(sorted(FIELDS))}")
    sampler = data.get("sampler", "nsga2")
    if sampler not in SAMPLERS:
        raise McuforgeError(f"{path}: sampler = {sampler!r}: choose one of {', '.join(SAMPLERS)}")
    seed, population = data.get("seed", 0), data.get("population_size", 8)
    for field, value, least in (("seed", seed, 0), ("population_size", population, 2)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise McuforgeError(f"{path}: {field} = {value!r}: must be an integer >= {least}")
    params = tuple(parse_param(path, str(key), spec) for key, spec in data["params"].items())
    for param in params:
        for overrides in param.overrides_to_check():
            check_overrides(path, param.key, overrides, conf_dir)
    return Space(path, sampler, seed, population, params, hashlib.sha256(text.encode()).hexdigest())
