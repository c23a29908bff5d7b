"""The deterministic numerics mode: the same configuration gives bit-identical numbers on any x86-64 CPU with AVX2.

The numerical libraries under the graph pick their kernels by the CPU they run
on: torch's ATen kernels (``default``, ``avx2``, ``avx512``), oneDNN's
convolutions (by instruction set *and* cache sizes), MKL's BLAS, OpenBLAS's
kernels under CHOLMOD, NumPy and SciPy (one per core type), and NumPy's own
SIMD loops (``exp``, ``log``, reductions). Two CPUs with different
instruction sets therefore round differently: measured, the float32 network
differs in the 7th digit at step 0 between an AVX2 and an AVX-512 machine, the
float64 physics in the 10th digit after about 20 steps, and chaotic runs turn
that into different medians.

With ``LANDSCAPE_DETERMINISTIC=1`` in the environment (the study scripts and
``make run`` set it; ``landscape --deterministic ...`` at the command line)
``import landscape`` pins, *before* torch and NumPy load:

==========================  ==========================  ===============================================
variable                    value                       what it pins
==========================  ==========================  ===============================================
``ATEN_CPU_CAPABILITY``     ``avx2``                    torch's vectorized CPU kernels (and SLEEF's math)
``MKL_CBWR``                ``COMPATIBLE``              MKL's code path (torch's GEMMs), on Intel and AMD
``DNNL_MAX_CPU_ISA``        ``AVX2``                    oneDNN's instruction set (it is also switched off,
                                                        below, because its blocking follows cache sizes)
``OPENBLAS_CORETYPE``       ``Haswell``                 OpenBLAS's kernels (CHOLMOD's BLAS, NumPy, SciPy)
``NPY_DISABLE_CPU_FEATURES``  AVX-512 targets           NumPy's SIMD loops stay at AVX2 (x86-64-v3)
``MKL_DYNAMIC``             ``FALSE``                   MKL uses the thread count it is given, not fewer
                                                        when the machine is busy
==========================  ==========================  ===============================================

and, once torch has loaded, turns oneDNN and NNPACK off for the convolutions
(torch's own im2col + MKL GEMM path is used, whose order of operations does not
depend on the cache sizes). A value that is already set in the environment is
respected (some machines set ``OPENBLAS_CORETYPE`` because an OpenBLAS build
misdetects their CPU) and recorded; :func:`check` says when it differs from the
pin. Thread counts are pinned separately, by :mod:`landscape.threads`.

What this cannot pin, and is therefore recorded in every trace
(:func:`report`): the library versions (a different NumPy, SciPy, torch,
OpenBLAS or SuiteSparse build may round differently), glibc's ``libm``, CPUs
without AVX2 or FMA, and non-x86 machines, where the mode is inactive and says so.

From Python, set the variable before the first import of torch or NumPy::

    import os
    os.environ["LANDSCAPE_DETERMINISTIC"] = "1"
    import landscape                       # pins, then loads torch
    landscape.numerics.check()             # [] when every pin took effect

This module imports neither torch nor NumPy at import time, so that
``landscape/__init__.py`` can call :func:`pin_environment` first.
"""
from __future__ import annotations

import os
import platform
import sys
import warnings

__all__ = ["ENVIRONMENT", "PINS", "requested", "pin_environment", "configure_torch", "active", "check",
           "require", "report", "mode", "DeterminismError"]

#: the environment variable that asks for the mode ("1", "true", "yes", "on"; "0" or unset: off)
ENVIRONMENT = "LANDSCAPE_DETERMINISTIC"

#: NumPy's dispatch targets above AVX2, under the names of NumPy 1.x and 2.x; names a NumPy does not
#: know are ignored by it
_NUMPY_ABOVE_AVX2 = ("X86_V4 AVX512F AVX512CD AVX512_KNL AVX512_KNM AVX512_SKX AVX512_CLX AVX512_CNL "
                     "AVX512_ICL AVX512_SPR AVX512FP16")

#: environment variable -> pinned value
PINS = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_CBWR": "COMPATIBLE",
    "DNNL_MAX_CPU_ISA": "AVX2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "OPENBLAS_CORETYPE": "Haswell",
    "NPY_DISABLE_CPU_FEATURES": _NUMPY_ABOVE_AVX2,
    "MKL_DYNAMIC": "FALSE",
}

#: other variables that change which kernels run, recorded when set
_RECORDED = ("OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "OMP_THREAD_LIMIT", "MKL_NUM_THREADS",
             "OMP_DYNAMIC", "MKL_ENABLE_INSTRUCTIONS", "MKL_DEBUG_CPU_TYPE", "NPY_ENABLE_CPU_FEATURES")

_TRUE, _FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")
_state = {"pinned": False, "preloaded": (), "overridden": {}, "warned": False}


class DeterminismError(RuntimeError):
    """The deterministic mode was asked for but a pin did not take effect (the message says which and why)."""


def requested(environ=None) -> bool:
    """Whether ``$LANDSCAPE_DETERMINISTIC`` asks for the mode.

    The value is compared case-insensitively after stripping whitespace.

    Args:
        environ: mapping to read the variable from (default ``None``: ``os.environ``).

    Returns:
        True for 1/true/yes/on, False for 0/false/no/off or an unset or empty variable.

    Raises:
        ValueError: the variable holds something other than 1/true/yes/on or 0/false/no/off/empty.
    """
    text = (os.environ if environ is None else environ).get(ENVIRONMENT, "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{ENVIRONMENT}={text!r}: accepted values are 1/true/yes/on and 0/false/no/off")


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def supported() -> tuple[bool, str]:
    """Whether this CPU can run the pinned kernels: ``(ok, reason)`` (x86-64 with AVX2 and FMA).

    The flags come from ``/proc/cpuinfo``; when they cannot be read, an x86-64 machine is taken as
    supported.

    Returns:
        ``(True, "")``, or ``(False, reason)`` with the reason in words.
    """
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False, f"the CPU is {platform.machine()}, not x86-64"
    flags = _cpu_flags()
    if flags and not {"avx2", "fma"} <= flags:
        return False, "the CPU has no AVX2/FMA"
    return True, ""


def pin_environment() -> dict[str, str]:
    """Set the pins of :data:`PINS` in ``os.environ`` (values already set are kept); returns the values in force.

    Must run before torch, NumPy or SciPy load to take effect; ``landscape/__init__.py`` calls it
    when :func:`requested`. Which of those were already loaded (when some pin was not yet in the
    environment) and which variables were already set to a value other than the pin are remembered for
    :func:`check`. Marks the mode as active.

    Returns:
        ``{variable: value in force}`` for every variable of :data:`PINS`.
    """
    missing = any(key not in os.environ for key in PINS)   # inherited pins were in force from the start
    _state["preloaded"] = tuple(name for name in ("torch", "numpy", "scipy") if missing and name in sys.modules)
    _state["overridden"] = {k: os.environ[k] for k, v in PINS.items() if os.environ.get(k, v) != v}
    for key, value in PINS.items():
        os.environ.setdefault(key, value)
    _state["pinned"] = True
    return {key: os.environ[key] for key in PINS}


def configure_torch() -> None:
    """Switch oneDNN and NNPACK off for torch's convolutions (their kernels follow the CPU's caches).

    Sets ``torch.backends.mkldnn.enabled = False`` and ``torch.backends.nnpack.set_flags(False)``;
    imports torch.
    """
    import torch
    torch.backends.mkldnn.enabled = False
    torch.backends.nnpack.set_flags(False)


def active() -> bool:
    """Whether this process runs in the deterministic mode (asked for and pinned).

    Returns:
        True once :func:`pin_environment` has run in this process.
    """
    return bool(_state["pinned"])


def mode() -> str:
    """``"deterministic"`` or ``"native"``: the mode of this process, as traces record it."""
    return "deterministic" if active() else "native"


def check() -> list[str]:
    """What keeps this process from the deterministic kernels: one line per pin that did not take effect.

    Empty when the mode is off or every pin holds. Reads the kernels each library reports it uses:
    torch's CPU capability, the core type of every OpenBLAS that threadpoolctl finds, NumPy's
    active dispatch targets, and whether oneDNN is off. On a CPU that :func:`supported` rejects, the
    single line says that the mode is inactive and why. Also lists libraries imported before the pins and
    pinned variables whose earlier value was kept.

    Returns:
        The problems as sentences (an empty list when there are none).
    """
    if not active():
        return []
    problems = []
    ok, reason = supported()
    if not ok:
        return [f"the deterministic mode is inactive: {reason}"]
    for name in _state["preloaded"]:
        problems.append(f"{name} was imported before landscape, so its kernels may not be pinned; set "
                        f"{ENVIRONMENT}=1 in the environment before Python starts")
    for key, value in _state["overridden"].items():
        problems.append(f"{key}={value} was set in the environment and kept (the pin is {PINS[key]})")
    kernels = report()["kernels"]
    if kernels["torch_cpu_capability"] != "AVX2":
        problems.append(f"torch uses {kernels['torch_cpu_capability']} kernels, not AVX2")
    if kernels["torch_mkldnn"]:
        problems.append("torch's oneDNN convolutions are on")
    for blas in kernels["blas"]:
        if blas["internal_api"] == "openblas" and str(blas["architecture"]).lower() != "haswell":
            problems.append(f"OpenBLAS {blas['filepath']} uses {blas['architecture']} kernels, not Haswell")
    above = [f for f in kernels["numpy_dispatch"] if f in _NUMPY_ABOVE_AVX2.split()]
    if above:
        problems.append(f"NumPy dispatches to {', '.join(above)}")
    return problems


def require() -> None:
    """Raise :class:`DeterminismError` unless the mode is on and every pin holds (the study scripts call it).

    Raises:
        DeterminismError: if the mode is off, or if :func:`check` reports a problem (the message lists them).
    """
    if not active():
        raise DeterminismError(f"the deterministic mode is off; set {ENVIRONMENT}=1 before Python starts")
    problems = check()
    if problems:
        raise DeterminismError("the deterministic mode did not take effect:\n  " + "\n  ".join(problems))


def warn_if_incomplete() -> None:
    """Warn once when the mode is on but a pin did not take effect (``import landscape`` calls it).

    Emits a ``RuntimeWarning`` listing the lines of :func:`check`, at most once per process.
    """
    problems = check()
    if problems and not _state["warned"]:
        _state["warned"] = True
        warnings.warn("landscape: deterministic numerics incomplete, results may differ between CPUs:\n  "
                      + "\n  ".join(problems), RuntimeWarning, stacklevel=3)


_SIMD_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512dq", "avx512bw", "avx512vl",
               "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "sha_ni")


def report() -> dict:
    """The numerics of this process, as every trace records it (``attrs["numerics"]``).

    Returns:
        ``{"mode", "pins": {variable: value in force or None}, "environment": {other kernel variables set},
        "cpu": {"model", "machine", "simd": [SIMD flags]}, "kernels": {"torch_cpu_capability",
        "torch_mkldnn", "numpy_dispatch": [active NumPy targets], "numpy": NumPy version,
        "blas": [{internal_api, version, architecture, threading_layer, filepath}]}}``; ``mode`` is
        :func:`mode`, the BLAS list is sorted by file name (the base name of the library's path).
    """
    import numpy
    import torch
    from threadpoolctl import threadpool_info
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:   # NumPy 1.x
        from numpy.core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    blas = [{"internal_api": i.get("internal_api"), "version": i.get("version"),
             "architecture": i.get("architecture"), "threading_layer": i.get("threading_layer"),
             "filepath": os.path.basename(str(i.get("filepath")))}
            for i in threadpool_info() if i.get("user_api") == "blas"]
    flags = _cpu_flags()
    return {
        "mode": mode(),
        "pins": {key: os.environ.get(key) for key in PINS},
        "environment": {key: os.environ[key] for key in _RECORDED if key in os.environ},
        "cpu": {"model": _cpu_model(), "machine": platform.machine(),
                "simd": [f for f in _SIMD_FLAGS if f in flags]},
        "kernels": {"torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
                    "torch_mkldnn": bool(torch.backends.mkldnn.enabled and torch.backends.mkldnn.is_available()),
                    "numpy_dispatch": [t for t in __cpu_dispatch__ if __cpu_features__.get(t)],
                    "numpy": numpy.__version__,
                    "blas": sorted(blas, key=lambda b: b["filepath"])},
    }
