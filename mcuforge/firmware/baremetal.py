"""Bare-metal images (Cortex-M, RV32IMC; mcuforge.firmware.cores) of the native runtime + a generated model, run on QEMU.

    core = CORES["cortex-m4"]
    elf = build_elf(core, sources, build_dir / "app.elf", include_dirs=[...], defines={...})
    sizes = elf_sizes(elf)                       # text / data / bss (<prefix>-size)
    run = run_qemu(core, elf)                    # stdout + exit code (semihosting exit)
    count = count_instructions(core, elf, "mf_marker_begin", "mf_marker_end")

Startup (vector table, reset handler, semihosting), one linker script per QEMU machine and the
benchmark harness (`bench_main.c`) live in `firmware/baremetal/` (SUPPORT_DIR). Everything is compiled with
-nostdlib (libgcc only) and `-fno-tree-loop-distribute-patterns`, so no libc is linked.
Instruction counts come from `-singlestep -d exec,nochain`: one trace line per executed
instruction; no interrupt is ever enabled, so nothing else runs in between.
"""
from __future__ import annotations

import bisect
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from mcuforge.errors import McuforgeError

from mcuforge.firmware.cores import CORES, SUPPORT_DIR, Core, elf_prefix, missing_tools  # noqa: F401

BENCH_HARNESS = SUPPORT_DIR / "bench_main.c"  # the benchmark / runtime-exactness harness
COMMON_CFLAGS = ("-std=c99", "-Os", "-Wall", "-Wextra", "-ffunction-sections", "-fdata-sections",
                 "-fno-tree-loop-distribute-patterns", "-ffreestanding", "-g0")
LDFLAGS = ("-nostdlib", "-nostartfiles", "-Wl,--gc-sections")


def _run(cmd: list[str], what: str, timeout: float | None = None, **kwargs) -> subprocess.CompletedProcess:
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)
    except FileNotFoundError as exc:
        raise McuforgeError(f"{what}: {cmd[0]} not found (apt-get install the toolchain and QEMU of "
                            f"mcuforge.firmware.cores.APT; `bash scripts/setup.sh` does it)") from exc
    except subprocess.TimeoutExpired as exc:
        raise McuforgeError(f"{what}: timed out after {timeout} s: {' '.join(cmd)}") from exc
    return result


def build_elf(core: Core, sources: list[Path], elf: Path, include_dirs: list[Path] = (),
              defines: dict[str, str | None] | None = None, opt: str = "-Os",
              extra_flags: tuple[str, ...] = ()) -> Path:
    """Compile `sources` + startup.c for `core` and link with the machine's linker script."""
    elf = Path(elf)
    elf.parent.mkdir(parents=True, exist_ok=True)
    cflags = [f if f != "-Os" else opt for f in COMMON_CFLAGS]
    flags = [*(f"-D{k}" if v is None else f"-D{k}={v}" for k, v in (defines or {}).items()),
             *(f"-I{d}" for d in (SUPPORT_DIR, *include_dirs))]
    cmd = [core.gcc, *core.cpu_flags, *cflags, *extra_flags, *flags,
           str(SUPPORT_DIR / "startup.c"), *map(str, sources),
           *LDFLAGS, f"-L{SUPPORT_DIR}", f"-T{core.linker_script}", f"-Wl,-Map={elf.with_suffix('.map')}", "-lgcc", "-o", str(elf)]
    result = _run(cmd, f"{core.name} build")
    if result.returncode != 0:
        raise McuforgeError(f"{core.name} build failed:\n{' '.join(cmd)}\n{result.stderr}")
    return elf


def elf_sizes(elf: Path) -> dict[str, int]:
    """Berkeley sizes: text (code + rodata + vectors), data, bss; flash = text + data, ram = data + bss."""
    size = f"{elf_prefix(elf)}-size"
    result = _run([size, "-B", str(elf)], size)
    if result.returncode != 0:
        raise McuforgeError(f"{size} failed: {result.stderr}")
    text, data, bss = (int(v) for v in result.stdout.splitlines()[1].split()[:3])
    return {"text": text, "data": data, "bss": bss, "flash": text + data, "ram": data + bss}


def symbols(elf: Path, kinds: str = "tTwW") -> dict[str, tuple[int, int]]:
    """Symbols of nm's `kinds` (default: functions): name -> (start address without the Thumb bit,
    size in bytes); kinds="rR" gives read-only data such as const arrays."""
    nm = f"{elf_prefix(elf)}-nm"
    result = _run([nm, "-S", "--defined-only", str(elf)], nm)
    if result.returncode != 0:
        raise McuforgeError(f"{nm} failed: {result.stderr}")
    table = {}
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in kinds:
            table[parts[3]] = (int(parts[0], 16) & ~1, int(parts[1], 16))
    return table


def qemu_command(core: Core, elf: Path, semihost_output: Path | None = None, trace: bool = False) -> list[str]:
    """QEMU for `core`'s machine; semihosting output on stdout (or into `semihost_output`); with
    trace=True the single-step exec trace goes to stdout instead (one `Trace` line per instruction)."""
    chardev = f"file,id=semihost,path={semihost_output}" if semihost_output else "stdio,id=semihost"
    cmd = [core.qemu, *core.qemu_machine_args, "-nographic", "-monitor", "none",
           "-serial", "none", "-chardev", chardev,
           "-semihosting-config", "enable=on,target=native,chardev=semihost",
           "-icount", "shift=5,align=off,sleep=off", "-kernel", str(elf)]
    if trace:
        cmd += ["-singlestep", "-d", "exec,nochain", "-D", "/dev/stdout"]
    return cmd


@dataclass
class QemuRun:
    returncode: int
    stdout: str
    stderr: str


def run_qemu(core: Core, elf: Path, timeout: float = 30.0) -> QemuRun:
    """Run the image until it exits through semihosting (its exit code is QEMU's)."""
    result = _run(qemu_command(core, elf), f"qemu {core.machine}", timeout=timeout, stdin=subprocess.DEVNULL)
    return QemuRun(result.returncode, result.stdout, result.stderr)


def _pc_field(line: bytes) -> bytes:
    """The guest PC (8 hex digits) of `Trace 0: 0x7f.. [00800400/00000188/00000110/ff020201] sym`."""
    i = line.find(b"/", line.find(b"[")) + 1
    return line[i:i + 8]


def count_marker_pairs(core: Core, elf: Path, begin: str = "mf_marker_begin", end: str = "mf_marker_end",
                       timeout: float = 600.0, profile: bool = False, cwd: Path | None = None) -> dict:
    """Executed instructions after each return from `begin` until the next entry into `end`, from a
    single-step exec trace streamed through a pipe (no log file: large models trace 10^7+ lines).

    Returns `counts` (one per marker pair, in order) and the program's semihosting `stdout`; with
    profile=True also the per-function split over all pairs (functions by nm address ranges; `?` for
    addresses outside every sized symbol)."""
    table = symbols(elf)
    for name in (begin, end):
        if name not in table:
            raise McuforgeError(f"{elf}: no function symbol {name}")
    b_lo, b_size = table[begin]
    begin_pcs = {b"%08x" % a for a in range(b_lo, b_lo + max(b_size, 2), 2)}
    end_pc = b"%08x" % table[end][0]
    ranges = sorted((start, start + size, name) for name, (start, size) in table.items() if size)
    starts = [r[0] for r in ranges]
    counts, state, count, per_function = [], "before", 0, {}
    with tempfile.TemporaryDirectory(prefix="mf-trace-") as tmp:
        semihost, errors = Path(tmp) / "semihost.txt", open(Path(tmp) / "stderr.txt", "w+b")
        cmd = qemu_command(core, elf, semihost_output=semihost, trace=True)
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors,
                                bufsize=1 << 20, cwd=cwd)
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            for line in proc.stdout:
                if not line.startswith(b"Trace"):
                    continue
                pc = _pc_field(line)
                if state == "counting":
                    if pc == end_pc:
                        counts.append(count)
                        state = "before"
                        continue
                    count += 1
                    if profile:
                        addr = int(pc, 16)
                        i = bisect.bisect_right(starts, addr) - 1
                        name = ranges[i][2] if i >= 0 and addr < ranges[i][1] else "?"
                        per_function[name] = per_function.get(name, 0) + 1
                elif state == "before":
                    if pc in begin_pcs:
                        state = "in_begin"
                elif state == "in_begin" and pc not in begin_pcs:
                    state, count = "counting", 1
                    if profile:  # the first instruction after returning to the caller
                        per_function["main"] = per_function.get("main", 0) + 1
            returncode = proc.wait()
        finally:
            killer.cancel()
            proc.stdout.close()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        errors.seek(0)
        stderr = errors.read().decode(errors="replace")
        errors.close()
        stdout = semihost.read_text() if semihost.exists() else ""
    if returncode != 0:
        raise McuforgeError(f"{elf} exited {returncode} under the trace (timeout {timeout} s?): {stdout}{stderr}")
    out = {"counts": counts, "stdout": stdout}
    if profile:
        out["per_function"] = dict(sorted(per_function.items(), key=lambda kv: -kv[1]))
    return out


def count_instructions(core: Core, elf: Path, begin: str = "mf_marker_begin", end: str = "mf_marker_end",
                       timeout: float = 600.0, profile: bool = False) -> dict:
    """The instructions between the one begin/end marker pair of a harness that invokes once."""
    traced = count_marker_pairs(core, elf, begin, end, timeout, profile)
    if len(traced["counts"]) != 1:
        raise McuforgeError(f"{elf}: expected one {begin}/{end} pair in the trace, saw "
                            f"{len(traced['counts'])}")
    out = {"instructions": traced["counts"][0], "stdout": traced["stdout"]}
    if profile:
        out["per_function"] = traced["per_function"]
    return out


def parse_harness_output(stdout: str) -> dict:
    """`output: a b c`, `status: s`, `stack: n` lines of firmware/baremetal/bench_main.c."""
    found = {}
    for line in stdout.splitlines():
        key, _, value = line.partition(":")
        if key == "output":
            found["output"] = [int(v) for v in value.split()]
        elif key in ("status", "stack"):
            found[key] = int(value)
    return found


def build_model_image(core: Core, model_dir: Path, ident: str, elf: Path, runtime_sources: list[Path],
                      runtime_include: Path, opt: str = "-Os") -> Path:
    """Harness + runtime + generated `<ident>.c` for `core`."""
    return build_elf(core, [BENCH_HARNESS, *runtime_sources, Path(model_dir) / f"{ident}.c"], elf,
                     include_dirs=[runtime_include, Path(model_dir)],
                     defines={"MF_MODEL": ident, "MF_MODEL_UPPER": ident.upper()}, opt=opt)


def build_empty_image(core: Core, elf: Path, opt: str = "-Os") -> Path:
    """The same startup + harness without any model: the baseline for size increments."""
    return build_elf(core, [BENCH_HARNESS], elf, defines={"MF_EMPTY": None}, opt=opt)


def measure_model(core: Core, model_dir: Path, ident: str, work_dir: Path, runtime_sources: list[Path],
                  runtime_include: Path, profile: bool = False, timeout: float = 300.0) -> dict:
    """Build the empty and the model image for `core`, run it, count instructions.

    Returns flash/ram increments over the empty image, the outputs, peak stack and instructions."""
    work_dir = Path(work_dir)
    empty = elf_sizes(build_empty_image(core, work_dir / f"empty-{core.name}.elf"))
    elf = build_model_image(core, model_dir, ident, work_dir / f"{ident}-{core.name}.elf",
                            runtime_sources, runtime_include)
    sizes = elf_sizes(elf)
    run = run_qemu(core, elf)
    parsed = parse_harness_output(run.stdout)
    if run.returncode != 0 or "output" not in parsed:
        raise McuforgeError(f"{elf} on {core.machine}: exit {run.returncode}\n{run.stdout}{run.stderr}")
    counted = count_instructions(core, elf, profile=profile, timeout=timeout)
    result = {
        "core": core.name, "machine": core.machine,
        "flash_bytes": sizes["flash"] - empty["flash"], "ram_bytes": sizes["ram"] - empty["ram"],
        "text_bytes": sizes["text"] - empty["text"],
        "data_bytes": sizes["data"] - empty["data"], "bss_bytes": sizes["bss"] - empty["bss"],
        "stack_bytes": parsed.get("stack"),
        "image": sizes, "empty_image": empty,
        "output": parsed["output"], "status": parsed.get("status"),
        "instructions": counted["instructions"],
    }
    if profile:
        result["instructions_per_function"] = counted["per_function"]
    return result

