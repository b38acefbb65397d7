#!/usr/bin/env python3
"""Loads libpi5_llm_rt.so with ctypes, creates a runtime and prints its report.

    python3 examples/python/report.py [cpu|vulkan|auto]
Library: $PI5_LLM_RT_LIB, else zig-out/lib/libpi5_llm_rt.so, else the system loader.
"""
import ctypes
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pi5_llm_rt_ctypes as pi5  # generated from include/pi5_llm_rt.h by codegen/

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def load():
    path = os.environ.get("PI5_LLM_RT_LIB")
    if not path:
        local = os.path.join(ROOT, "zig-out", "lib", "libpi5_llm_rt.so")
        path = local if os.path.exists(local) else "libpi5_llm_rt.so"
    lib = ctypes.CDLL(path)
    missing = pi5.declare(lib)
    if missing:
        print(f"note: library lacks {', '.join(missing)}", file=sys.stderr)
    return lib


def main():
    backend = sys.argv[1] if len(sys.argv) > 1 else "cpu"
    lib = load()
    print(f"library {lib.pi5_version_string().decode()}")

    @pi5.pi5_log_callback
    def on_log(level, message, _user):
        print(f"[pi5 {level}] {message.decode(errors='replace')}", file=sys.stderr)

    opts = lib.pi5_runtime_default_options()
    opts.backend = {"cpu": pi5.pi5_backend.PI5_BACKEND_CPU, "vulkan": pi5.pi5_backend.PI5_BACKEND_VULKAN,
                    "auto": pi5.pi5_backend.PI5_BACKEND_AUTO}[backend]
    opts.log_callback = on_log
    rt = ctypes.c_void_p()
    st = lib.pi5_create_runtime_ex(ctypes.byref(opts), ctypes.byref(rt))
    if st != pi5.pi5_status.PI5_OK:
        sys.exit(f"pi5_create_runtime_ex: {lib.pi5_status_string(st).decode()}")
    try:
        n = ctypes.c_size_t(0)
        buf = ctypes.create_string_buffer(256)
        st = lib.pi5_runtime_report(rt, buf, len(buf), ctypes.byref(n))
        if st == pi5.pi5_status.PI5_ERR_BUFFER_TOO_SMALL:
            buf = ctypes.create_string_buffer(n.value + 1)
            st = lib.pi5_runtime_report(rt, buf, len(buf), ctypes.byref(n))
        if st != pi5.pi5_status.PI5_OK:
            sys.exit(f"pi5_runtime_report: {lib.pi5_status_string(st).decode()}")
        report = json.loads(buf.value.decode())
        print(f"backend {report['backend']}")
        print(json.dumps(report, indent=2))
    finally:
        lib.pi5_destroy_runtime(rt)


if __name__ == "__main__":
    main()
