"""Turn model names, labels and constants into valid C: identifiers, string literals, comments, floats."""
from __future__ import annotations

import re

import numpy as np

_C_KEYWORDS = frozenset("""auto break case char const continue default do double else enum extern float
for goto if inline int long register restrict return short signed sizeof static struct switch typedef
union unsigned void volatile while _Bool _Complex _Imaginary""".split())


def c_identifier(text: str) -> str:
    """Letters, digits and underscores only; never empty, never leading digit, never a keyword."""
    ident = re.sub(r"[^A-Za-z0-9_]", "_", text.encode("ascii", "replace").decode("ascii"))
    ident = re.sub(r"_+", "_", ident).strip("_") or "model"
    if ident[0].isdigit() or ident in _C_KEYWORDS or ident.startswith("__"):
        ident = "m_" + ident
    return ident


def c_string_literal(text: str) -> str:
    """A C string literal holding the UTF-8 bytes of `text`. Anything outside printable ASCII,
    plus quote, backslash and '?' (trigraphs), becomes a 3-digit octal escape."""
    out = []
    for byte in text.encode("utf-8"):
        ch = chr(byte)
        if 0x20 <= byte < 0x7F and ch not in '"\\?':
            out.append(ch)
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def c_comment_text(text: str, limit: int = 100) -> str:
    """Text safe inside a C comment: printable ASCII without '?', no comment delimiters, one line."""
    safe = "".join(ch if 0x20 <= ord(ch) < 0x7F and ch != "?" else "." for ch in text)  # '?': trigraphs
    safe = safe.replace("*/", "* /").replace("/*", "/ *")
    if len(safe) > limit:
        safe = safe[: limit - 3] + "..."
    return safe


def c_float_literal(value: float) -> str:
    """The float32 nearest `value` as a decimal C literal with 9 significant digits (round-trips)."""
    text = f"{float(np.float32(value)):.9g}"
    if "e" not in text and "." not in text:
        text += ".0"
    return text + "f"
