#!/usr/bin/env python3
"""Loads a model with ctypes (generated declarations) and streams generated text.

    python3 examples/python/generate.py [model.gguf] [prompt] [n_tokens] [temperature] [seed]
Model: default stories260K.gguf from $PI5_MODELS_DIR or ../shared/models.
Library: $PI5_LLM_RT_LIB, else zig-out/lib/libpi5_llm_rt.so, else the system loader.
"""
import ctypes
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
        sys.exit(f"the library lacks {', '.join(missing)}: rebuild it")
    return lib


def main():
    args = sys.argv[1:]
    models = os.environ.get("PI5_MODELS_DIR", os.path.join(ROOT, "..", "shared", "models"))
    model = args[0] if len(args) > 0 and args[0] else os.path.join(models, "stories260K.gguf")
    prompt = args[1] if len(args) > 1 else "Once upon a time"
    n = int(args[2]) if len(args) > 2 else 64
    temp = float(args[3]) if len(args) > 3 else 0.8
    seed = int(args[4]) if len(args) > 4 else 0
    lib = load()

    opts = lib.pi5_runtime_default_options()
    if "PI5_BACKEND" not in os.environ:
        opts.backend = pi5.pi5_backend.PI5_BACKEND_CPU
    rt = ctypes.c_void_p()
    status = lib.pi5_create_runtime_ex(ctypes.byref(opts), ctypes.byref(rt))
    if status != pi5.pi5_status.PI5_OK:
        sys.exit(f"cannot create a runtime: {lib.pi5_last_error(None).decode()}")
    try:
        status = lib.pi5_load_model(rt, model.encode())
        if status != pi5.pi5_status.PI5_OK:
            name = pi5.pi5_status(status).name
            sys.exit(f"cannot load {model}: {lib.pi5_last_error(rt).decode()} ({name})")

        out = sys.stdout.buffer

        @pi5.pi5_token_callback
        def on_token(_token, piece, piece_len, _user):
            out.write(ctypes.string_at(piece, piece_len))  # not NUL-terminated: use the length
            out.flush()
            return 0

        go = lib.pi5_generate_default_options()
        go.max_tokens = n
        go.sampling.temperature = temp
        go.sampling.seed = seed
        go.on_token = on_token
        res = pi5.pi5_generate_result()
        out.write(prompt.encode())
        status = lib.pi5_generate(rt, prompt.encode(), ctypes.byref(go), None, 0, None, ctypes.byref(res))
        out.write(b"\n")
        out.flush()
        if status != pi5.pi5_status.PI5_OK:
            sys.exit(f"generate: {lib.pi5_last_error(rt).decode()}")
        rate = res.n_generated * 1000.0 / res.generate_ms if res.generate_ms > 0 else 0.0
        print(f"generated {res.n_generated} tokens in {res.generate_ms:.1f} ms ({rate:.1f} tok/s)", file=sys.stderr)
    finally:
        lib.pi5_destroy_runtime(rt)


if __name__ == "__main__":
    main()
