"""The CPU: what it can do (its feature flags decide the default engine) and how its cores are shared.

Engines, fastest first where the CPU supports them natively (all four give the same labels to within a few
thousandths of a score; docs/benchmarks.md has the numbers):

- "bf16": OpenVINO with bf16 matrix products, on AMX tiles (Intel Xeon since Sapphire Rapids: calls 2.4–2.7× faster
  than int8) or AMD's AVX-512 BF16 dot products (Zen 4 and later: 1.1–1.6× per call);
- "ov-int8": OpenVINO on int8 weights with activations quantised per token, on Intel's AVX-512 VNNI (calls 1.2–1.8×
  faster than int8);
- "int8": ONNX Runtime with per-token int8 matrix products (1.4–1.9× the fp32 speed), everywhere else;
- "fp32": ONNX Runtime, exact to the trained weights.
"""
from __future__ import annotations

from threadpoolctl import threadpool_limits

from models.runtime.backends import PRECISIONS

ENGINES = ("auto", *PRECISIONS)  # what VOC_ENGINE may say; "auto" is `default_engine()`


def cpu_info() -> tuple[str, frozenset[str]]:
    """This CPU's vendor ("GenuineIntel", "AuthenticAMD") and feature flags, read from /proc/cpuinfo (empty where there
    is none: not Linux)."""
    vendor, flags = "", frozenset()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "vendor_id":
                    vendor = value.strip()
                elif key.strip() == "flags":
                    return vendor, frozenset(value.split())
    except OSError:
        pass
    return vendor, flags


def bf16_is_faster(vendor: str, flags: frozenset[str]) -> bool:
    """Whether OpenVINO's bf16 beats the int8 engine on this CPU: on AMX tiles and on AMD's AVX-512 BF16. Not on
    Intel's AVX-512 BF16 without AMX (Cooper Lake, or a Xeon whose AMX a hypervisor hides: `avx512_bf16` but no
    `amx_*` flags): bf16 runs there as slowly as fp32, at about half the int8 engine's speed, though OpenVINO lists
    BF16 among its capabilities."""
    return "amx_bf16" in flags or ("avx512_bf16" in flags and vendor == "AuthenticAMD")


def ov_int8_is_faster(vendor: str, flags: frozenset[str]) -> bool:
    """Whether the ov-int8 engine beats ONNX Runtime's int8 here: on Intel's AVX-512 VNNI (one thread per call: 1×16
    tokens 3.9 against 7.1 ms, 8×64 58.5 against 87.1 ms, 32×32 129 against 163 ms). AMD CPUs are not measured on it
    and keep int8."""
    return vendor == "GenuineIntel" and "avx512_vnni" in flags


def default_engine() -> str:
    """The engine for this CPU: "bf16" where bf16 is faster (`bf16_is_faster`), "ov-int8" on other Intel CPUs with
    AVX-512 VNNI (`ov_int8_is_faster`), else "int8". A CPU with neither keeps int8: OpenVINO has no native bf16 there
    (it may fall back to fp32, no faster than ONNX Runtime's fp32)."""
    cpu = cpu_info()
    return "bf16" if bf16_is_faster(*cpu) else "ov-int8" if ov_int8_is_faster(*cpu) else "int8"


def choose_engine(setting: str = "auto") -> str:
    """The engine a setting names (Settings.engine, VOC_ENGINE): "auto" is `default_engine()`."""
    if setting == "auto":
        return default_engine()
    if setting not in PRECISIONS:
        raise ValueError(f"unknown engine {setting!r}: use {', '.join(ENGINES)}")
    return setting


def blas_on_one_thread() -> None:
    """numpy's own matrix products (aspect similarities: small) on one thread, for the whole process: OpenBLAS's
    second thread spins while it waits for work, on the core that a model call needs (or, in fast mode, the other
    worker process). Small batches then cost ~30% less CPU a review. Called by the entry points (the CLI, the app
    factory), not by library code: it changes the whole process."""
    threadpool_limits(limits=1, user_api="blas")
