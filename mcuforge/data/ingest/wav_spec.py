"""The audio part of params.yaml's `dataset` section (sources `wav` and `pcm_pack`), checked.

A recording's word comes from its folder (layout `folders`: <path>/<word>/<file>.wav) or from the
`{label}` field of `dataset.pattern` (layout `pattern`: e.g. `{label}_{speaker}_{take}.wav`),
renamed by `dataset.label_map`; keywords keep their name, every other word becomes `unknown`.
The pattern field `dataset.group_field` (e.g. the speaker) is the split group.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from mcuforge.errors import McuforgeError

SILENCE, UNKNOWN = "silence", "unknown"
NOISE_COLORS = ("white", "pink", "brown")


@dataclass(frozen=True)
class AudioSpec:
    rate_hz: int
    keywords: tuple[str, ...]
    layout: str                     # folders | pattern
    pattern: re.Pattern | None      # compiled dataset.pattern (None: folders without one)
    group_field: str | None
    label_map: dict
    words: tuple[str, ...] | None   # every word allowed (None: any word)
    resample: bool
    clip_samples: int
    noise: dict                     # folder, colors, seconds, rms_dbfs, seed


def audio_spec(section: dict) -> AudioSpec:
    """Check the audio keys of `dataset` (each error names the key and the fix)."""
    def need(key):
        if key not in section:
            raise McuforgeError(f"params.yaml: missing `dataset.{key}` for an audio source; add it "
                                "to conf/dataset/ (see conf/dataset/fsdd.yaml) and recompose")
        return section[key]

    if list(need("channels")) != ["audio"]:
        raise McuforgeError(f"params.yaml: dataset.channels must be [audio] (mono) for source "
                            f"{section['source']!r}, got {section['channels']!r}")
    keywords = tuple(str(k) for k in need("keywords"))
    expected = [SILENCE, UNKNOWN, *keywords]
    if not keywords or list(need("labels")) != expected:
        raise McuforgeError(f"params.yaml: dataset.labels must be {expected} (silence, unknown, "
                            f"then dataset.keywords, in class-index order), got {section['labels']}")
    rate = need("sample_rate_hz")
    if rate != int(rate):
        raise McuforgeError(f"params.yaml: dataset.sample_rate_hz must be a whole number of Hz for "
                            f"audio, got {rate!r}")
    layout = need("layout")
    if layout not in ("folders", "pattern"):
        raise McuforgeError(f"params.yaml: dataset.layout must be `folders` (<path>/<word>/"
                            f"<file>.wav) or `pattern` (named fields in the file name), got {layout!r}")
    pattern = compile_pattern(section.get("pattern"), layout)
    group = section.get("group_field")
    if group is not None and (pattern is None or group not in pattern.groupindex):
        raise McuforgeError(f"params.yaml: dataset.group_field {group!r} is not a field of "
                            f"dataset.pattern {section.get('pattern')!r}; name one of its fields")
    words = section.get("words")
    missing = [k for k in keywords if words is not None and k not in words]
    if missing:
        raise McuforgeError(f"params.yaml: dataset.keywords {missing} are not in dataset.words "
                            f"{words}; add them there or pick other keywords")
    clip_ms = need("clip_ms")
    clip = clip_ms * rate / 1000
    if clip < 1 or clip != int(clip):
        raise McuforgeError(f"params.yaml: dataset.clip_ms={clip_ms} is not a whole number of "
                            f"samples at {rate} Hz")
    return AudioSpec(rate_hz=int(rate), keywords=keywords, layout=layout, pattern=pattern,
                     group_field=group, label_map={str(k): str(v) for k, v in
                                                   (section.get("label_map") or {}).items()},
                     words=None if words is None else tuple(str(w) for w in words),
                     resample=bool(need("resample")), clip_samples=int(clip),
                     noise=noise_config(need("noise")))


def compile_pattern(text, layout: str) -> re.Pattern | None:
    """`{label}_{speaker}_{take}.wav` → an anchored regex with one named group per field."""
    if text is None:
        if layout == "pattern":
            raise McuforgeError("params.yaml: dataset.layout is `pattern` but dataset.pattern is "
                                "null; set it, e.g. '{label}_{speaker}_{take}.wav'")
        return None
    parts = re.split(r"\{(\w+)\}", str(text))
    fields = parts[1::2]
    if len(set(fields)) != len(fields) or (layout == "pattern" and "label" not in fields):
        raise McuforgeError(f"params.yaml: dataset.pattern {text!r} must name each field once"
                            + (" and include {label}" if layout == "pattern" else ""))
    regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
    return re.compile(f"^{regex}$")


def noise_config(noise) -> dict:
    if not isinstance(noise, dict):
        raise McuforgeError(f"params.yaml: dataset.noise must be a mapping (folder, colors, "
                            f"seconds, rms_dbfs, seed), got {noise!r}")
    colors = list(noise.get("colors") or [])
    bad = [c for c in colors if c not in NOISE_COLORS]
    if bad:
        raise McuforgeError(f"params.yaml: dataset.noise.colors has {bad}; use some of "
                            f"{list(NOISE_COLORS)}")
    return {"folder": noise.get("folder"), "colors": colors,
            "seconds": float(noise.get("seconds", 60)), "rms_dbfs": float(noise.get("rms_dbfs", -20)),
            "seed": int(noise.get("seed", 0))}


def fields_of(name: str, spec: AudioSpec, where: str) -> dict[str, str]:
    """The pattern fields of file `name` (`where` names it in the error)."""
    if spec.pattern is None:
        return {}
    match = spec.pattern.match(name)
    if match is None:
        raise McuforgeError(f"{where}: the file name does not match dataset.pattern "
                            f"{spec.pattern.pattern!r}; rename the file or fix the pattern")
    return match.groupdict()


def class_of(raw_label: str, spec: AudioSpec, where: str) -> str:
    """A raw label (folder name or {label} field) → its class: a keyword or `unknown`."""
    word = spec.label_map.get(raw_label, raw_label)
    if word in (SILENCE, UNKNOWN) or (spec.words is not None and word not in spec.words):
        allowed = "reserved" if spec.words is None else f"not in dataset.words {list(spec.words)}"
        raise McuforgeError(f"{where}: label {word!r} is {allowed}; add it to dataset.words (or "
                            "dataset.label_map), or remove the file")
    return word if word in spec.keywords else UNKNOWN
