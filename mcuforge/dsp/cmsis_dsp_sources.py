"""CMSIS-DSP's C sources, fetched once from the cmsisdsp 1.10.3 sdist on PyPI (Apache-2.0).

The firmware's feature code calls the same CMSIS-DSP C functions as mcuforge/dsp/kernels.py does
through the `cmsisdsp` Python API, so the C library itself is needed. It is never committed: the
sdist (2.1 MB) is downloaded with pip into a cache outside the repository, its sha256 checked,
and unpacked atomically.

    root = cmsis_dsp_root()                        # folder holding Include/arm_math.h, Source/
    srcs = cmsis_dsp_sources(["arm_mean_f32", "arm_rfft_fast_f32"])   # only the .c files needed

Host compile flags (WHEEL_*): the venv's cmsisdsp wheel is built from this sdist by its setup.py,
which runs CMake on Source/ with -DHOST=YES -DLOOPUNROLL=ON -DCMAKE_BUILD_TYPE=Release and
CMAKE_C_FLAGS_RELEASE="-std=c11 -O3 -ffast-math -DNDEBUG -Wall -Wextra" (+ -fPIC); configDsp.cmake
turns HOST into __GNUC_PYTHON__ and LOOPUNROLL into ARM_MATH_LOOPUNROLL. Compiled with exactly
these flags by the same gcc, every CMSIS function the features use disassembles to the same
instructions as in the wheel's extension modules (checked by tests/test_features_c.py), so the
host C twin and the Python kernels agree to the bit. -ffast-math matters: it lets gcc vectorise
arm_vlog_f32's logf loop into glibc's libmvec _ZGVbN4v_logf (link -lmvec) and reorders sums.

FFT tables: CMSIS-DSP 1.16 dropped ARM_DSP_CONFIG_TABLES / ARM_FFT_ALLOW_TABLES (defining the
former is now an #error). Instead call the length-specific initialiser
(arm_rfft_fast_init_64_f32, which pulls arm_cfft_init_32_f32 and arm_cfft_sR_f32_len32), compile
with -ffunction-sections -fdata-sections and link with --gc-sections: only that length's
twiddle and bit-reversal tables are linked.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from mcuforge.errors import McuforgeError

CMSISDSP_VERSION = "1.10.3"  # the cmsisdsp pin in pyproject.toml (CMSIS-DSP 1.16.2)
SDIST_NAME = f"cmsisdsp-{CMSISDSP_VERSION}.tar.gz"
SDIST_SHA256 = "307d32298faa7c58db912851027fce35f886fec7eb1a27c4b309ce1a97f47519"
CACHE_ENV = "MCUFORGE_CACHE"

# Defines and optimisation flags the cmsisdsp wheel's C library was compiled with (see above).
WHEEL_DEFINES = ("-D__GNUC_PYTHON__", "-DARM_MATH_LOOPUNROLL", "-DNDEBUG")
WHEEL_CFLAGS = ("-std=c11", "-O3", "-ffast-math", "-fPIC")
WHEEL_LIBS = ("-lmvec", "-lm")  # setup.py's x86-64 Linux link args
# So the linker keeps only the FFT tables of the length in use.
SECTION_FLAGS = ("-ffunction-sections", "-fdata-sections")
GC_LINK_FLAGS = ("-Wl,--gc-sections",)

# CMSIS function -> (its source file under Source/, the CMSIS functions it calls).
# arm_sqrt_f32 is a static inline in Include/dsp/fast_math_functions.h: no source file.
_TABLES = ("CommonTables/arm_common_tables.c", "CommonTables/arm_const_structs.c")
FUNCTION_SOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "arm_mean_f32": ("StatisticsFunctions/arm_mean_f32.c", ()),
    "arm_rms_f32": ("StatisticsFunctions/arm_rms_f32.c", ()),
    "arm_accumulate_f32": ("StatisticsFunctions/arm_accumulate_f32.c", ()),
    "arm_offset_f32": ("BasicMathFunctions/arm_offset_f32.c", ()),
    "arm_mult_f32": ("BasicMathFunctions/arm_mult_f32.c", ()),
    "arm_add_f32": ("BasicMathFunctions/arm_add_f32.c", ()),
    "arm_scale_f32": ("BasicMathFunctions/arm_scale_f32.c", ()),
    "arm_vlog_f32": ("FastMathFunctions/arm_vlog_f32.c", ()),
    "arm_cmplx_mag_squared_f32": ("ComplexMathFunctions/arm_cmplx_mag_squared_f32.c", ()),
    "arm_biquad_cascade_df2T_f32": ("FilteringFunctions/arm_biquad_cascade_df2T_f32.c", ()),
    "arm_biquad_cascade_df2T_init_f32":
        ("FilteringFunctions/arm_biquad_cascade_df2T_init_f32.c", ()),
    "arm_rfft_fast_f32": ("TransformFunctions/arm_rfft_fast_f32.c", ("arm_cfft_f32",)),
    "arm_rfft_fast_init_f32": ("TransformFunctions/arm_rfft_fast_init_f32.c",
                               ("arm_cfft_init_f32", "tables")),
    "arm_cfft_f32": ("TransformFunctions/arm_cfft_f32.c",
                     ("arm_radix8_butterfly_f32", "arm_bitreversal_32")),
    "arm_cfft_init_f32": ("TransformFunctions/arm_cfft_init_f32.c", ("tables",)),
    "arm_radix8_butterfly_f32": ("TransformFunctions/arm_cfft_radix8_f32.c", ()),
    "arm_bitreversal_32": ("TransformFunctions/arm_bitreversal2.c", ()),
    # the mfcc block: arm_mfcc_f32 / arm_mfcc_q15 and what they call
    "arm_mfcc_init_f32": ("TransformFunctions/arm_mfcc_init_f32.c", ("arm_rfft_fast_init_f32",)),
    "arm_mfcc_f32": ("TransformFunctions/arm_mfcc_f32.c", (
        "arm_absmax_f32", "arm_scale_f32", "arm_mult_f32", "arm_rfft_fast_f32",
        "arm_cmplx_mag_f32", "arm_dot_prod_f32", "arm_offset_f32", "arm_vlog_f32",
        "arm_mat_vec_mult_f32")),
    "arm_absmax_f32": ("StatisticsFunctions/arm_absmax_f32.c", ()),
    "arm_cmplx_mag_f32": ("ComplexMathFunctions/arm_cmplx_mag_f32.c", ()),
    "arm_dot_prod_f32": ("BasicMathFunctions/arm_dot_prod_f32.c", ()),
    "arm_mat_vec_mult_f32": ("MatrixFunctions/arm_mat_vec_mult_f32.c", ()),
    "arm_mfcc_init_q15": ("TransformFunctions/arm_mfcc_init_q15.c", ("arm_rfft_init_q15",)),
    "arm_mfcc_q15": ("TransformFunctions/arm_mfcc_q15.c", (
        "arm_absmax_q15", "arm_divide_q15", "arm_scale_q15", "arm_mult_q15", "arm_rfft_q15",
        "arm_cmplx_mag_q15", "arm_dot_prod_q15", "arm_scale_q31", "arm_vlog_q31",
        "arm_offset_q31", "arm_shift_q31", "arm_mat_vec_mult_q15")),
    "arm_absmax_q15": ("StatisticsFunctions/arm_absmax_q15.c", ()),
    "arm_divide_q15": ("FastMathFunctions/arm_divide_q15.c", ("arm_abs_q15",)),
    "arm_abs_q15": ("BasicMathFunctions/arm_abs_q15.c", ()),
    "arm_shift_q15": ("BasicMathFunctions/arm_shift_q15.c", ()),
    "arm_scale_q15": ("BasicMathFunctions/arm_scale_q15.c", ()),
    "arm_mult_q15": ("BasicMathFunctions/arm_mult_q15.c", ()),
    "arm_rfft_q15": ("TransformFunctions/arm_rfft_q15.c", ("arm_cfft_q15", "arm_shift_q15")),
    "arm_rfft_init_q15": ("TransformFunctions/arm_rfft_init_q15.c", ("arm_cfft_init_q15", "tables")),
    "arm_cfft_q15": ("TransformFunctions/arm_cfft_q15.c",
                     ("arm_radix4_butterfly_q15", "arm_bitreversal_32")),
    "arm_cfft_init_q15": ("TransformFunctions/arm_cfft_init_q15.c", ("tables",)),
    "arm_radix4_butterfly_q15": ("TransformFunctions/arm_cfft_radix4_q15.c", ()),
    "arm_cmplx_mag_q15": ("ComplexMathFunctions/arm_cmplx_mag_q15.c", ("arm_sqrt_q31",)),
    "arm_sqrt_q31": ("FastMathFunctions/arm_sqrt_q31.c", ("tables",)),
    "arm_dot_prod_q15": ("BasicMathFunctions/arm_dot_prod_q15.c", ()),
    "arm_scale_q31": ("BasicMathFunctions/arm_scale_q31.c", ()),
    "arm_vlog_q31": ("FastMathFunctions/arm_vlog_q31.c", ()),
    "arm_offset_q31": ("BasicMathFunctions/arm_offset_q31.c", ()),
    "arm_shift_q31": ("BasicMathFunctions/arm_shift_q31.c", ()),
    "arm_mat_vec_mult_q15": ("MatrixFunctions/arm_mat_vec_mult_q15.c", ()),
}
# arm_rfft_fast_init_<N>_f32 lives in the generic initialiser's file.
_ALIASES = {f"arm_rfft_fast_init_{n}_f32": "arm_rfft_fast_init_f32" for n in
            (32, 64, 128, 256, 512, 1024, 2048, 4096)}
HEADER_ONLY = frozenset({"arm_sqrt_f32"})


def cache_dir() -> Path:
    """$MCUFORGE_CACHE, else ~/.cache/mcuforge (never inside the repository)."""
    base = os.environ.get(CACHE_ENV)
    return Path(base).expanduser() if base else Path.home() / ".cache" / "mcuforge"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download_sdist(dest_dir: Path) -> Path:
    """pip download the sdist into dest_dir; McuforgeError naming the fix if pip cannot."""
    # --no-build-isolation: pip prepares the sdist's metadata (runs its setup.py, which imports
    # numpy); with isolation and --no-binary :all: it would try to build numpy from source.
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
           "--no-build-isolation", f"cmsisdsp=={CMSISDSP_VERSION}", "-d", str(dest_dir)]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    sdist = dest_dir / SDIST_NAME
    if result.returncode != 0 or not sdist.exists():
        tail = (result.stderr or result.stdout).strip()[-800:]
        raise McuforgeError(
            f"could not download the CMSIS-DSP C sources ({SDIST_NAME} from PyPI) with "
            f"`{' '.join(cmd)}` (exit {result.returncode}): {tail}\nfix: check network access "
            f"to PyPI, or put {SDIST_NAME} (sha256 {SDIST_SHA256}) into {cache_dir()} "
            f"(or ${CACHE_ENV})")
    return sdist


def _verified(sdist: Path) -> Path:
    actual = _sha256(sdist)
    if actual != SDIST_SHA256:
        raise McuforgeError(f"{sdist}: sha256 {actual} != expected {SDIST_SHA256} for "
                            f"cmsisdsp {CMSISDSP_VERSION}; delete the file and run again")
    return sdist


def _is_complete(root: Path) -> bool:
    return (root / "Include" / "arm_math.h").is_file() and (root / "Source").is_dir()


def cmsis_dsp_root() -> Path:
    """The folder holding Include/arm_math.h and Source/ of CMSIS-DSP (cmsisdsp 1.10.3 sdist).

    Downloaded and unpacked on first use into <cache>/cmsisdsp-1.10.3/; an sdist already in
    <cache>/ (e.g. copied there for offline use) is used instead of downloading.
    """
    cache = cache_dir()
    root = cache / f"cmsisdsp-{CMSISDSP_VERSION}"
    if _is_complete(root):
        return root
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".cmsisdsp-", dir=cache) as tmp:
        tmp = Path(tmp)
        local = cache / SDIST_NAME
        sdist = _verified(local if local.is_file() else _download_sdist(tmp))
        unpack = tmp / "unpack"
        with tarfile.open(sdist, "r:gz") as archive:
            if hasattr(tarfile, "data_filter"):
                archive.extractall(unpack, filter="data")
            else:  # pragma: no cover - Python < 3.11.4
                archive.extractall(unpack)
        unpacked = unpack / f"cmsisdsp-{CMSISDSP_VERSION}"
        if not _is_complete(unpacked):
            raise McuforgeError(f"{sdist}: no cmsisdsp-{CMSISDSP_VERSION}/Include/arm_math.h "
                                f"inside; delete it and run again")
        try:
            unpacked.rename(root)  # atomic: a reader sees no folder or a complete one
        except OSError:
            if not _is_complete(root):  # not a concurrent winner: a broken leftover
                shutil.rmtree(root, ignore_errors=True)
                unpacked.rename(root)
    return root


def include_dirs(root: Path | None = None) -> list[Path]:
    """-I folders the sources need: Include/ (public) and PrivateInclude/."""
    root = root or cmsis_dsp_root()
    return [root / "Include", root / "PrivateInclude"]


def _resolve(function: str, needed: set[str]) -> None:
    function = _ALIASES.get(function, function)
    if function in needed or function in HEADER_ONLY:
        return
    if function == "tables":
        needed.add(function)
        return
    if function not in FUNCTION_SOURCES:
        raise McuforgeError(f"CMSIS-DSP function {function!r} is not mapped to a source file in "
                            f"mcuforge/dsp/cmsis_dsp_sources.py; add it to FUNCTION_SOURCES")
    needed.add(function)
    for dependency in FUNCTION_SOURCES[function][1]:
        _resolve(dependency, needed)


def cmsis_dsp_sources(functions, root: Path | None = None) -> list[Path]:
    """The CMSIS-DSP .c files needed to link `functions` (with what they call), sorted."""
    needed: set[str] = set()
    for function in functions:
        _resolve(function, needed)
    relative = {FUNCTION_SOURCES[f][0] for f in needed if f != "tables"}
    if "tables" in needed:
        relative.update(_TABLES)
    root = root or cmsis_dsp_root()
    paths = sorted(root / "Source" / rel for rel in relative)
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise McuforgeError(f"{missing[0]} is missing from the CMSIS-DSP sources at {root}; "
                            f"delete that folder so it is unpacked again")
    return paths
