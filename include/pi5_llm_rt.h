/*
 * pi5_llm_rt.h: the C ABI of pi5-llm-rt, a GPU-accelerated LLM inference runtime for the
 * Raspberry Pi 5 (Vulkan, V3DV) and any Vulkan device, with a CPU path that always works.
 *
 * Conventions (every function below follows them unless its comment says otherwise):
 *  - Handles are opaque. Each create has a destroy; destroying NULL is a no-op.
 *  - Functions that can fail return pi5_status (0 = PI5_OK, negative = error). Out-parameters
 *    are set to NULL/0 on failure. pi5_last_error(rt) then holds a message for that runtime.
 *  - Strings returned as `const char *` are static or owned by the library and valid for the
 *    lifetime stated. Variable-length results are written into caller buffers: the function
 *    takes (buf, buf_size, *out_len), writes a NUL-terminated string when it fits, always sets
 *    *out_len to the length needed (excluding the NUL), and returns PI5_ERR_BUFFER_TOO_SMALL
 *    when it does not fit. Memory the library allocates is freed only by the library.
 *  - Thread safety: different runtimes may be used from different threads at once; one runtime
 *    (and everything created from it) must be used by one thread at a time.
 *  - No function aborts or exits the process; invalid arguments return a status.
 *
 * Hosts may dlopen("libpi5_llm_rt.so") and resolve these names with dlsym.
 */
#ifndef PI5_LLM_RT_H
#define PI5_LLM_RT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define PI5_API __declspec(dllimport)
#else
#define PI5_API __attribute__((visibility("default")))
#endif

/** API version of this header: major, minor, patch. */
#define PI5_API_VERSION_MAJOR 0
#define PI5_API_VERSION_MINOR 1
#define PI5_API_VERSION_PATCH 0
/** (major << 16) | (minor << 8) | patch; compare with pi5_api_version() at run time. */
#define PI5_API_VERSION ((PI5_API_VERSION_MAJOR << 16) | (PI5_API_VERSION_MINOR << 8) | PI5_API_VERSION_PATCH)

/** Result of a call: 0 is success, every error is negative. Int-sized. */
typedef enum pi5_status {
    PI5_OK = 0,
    /** A NULL or out-of-range argument. */
    PI5_ERR_INVALID_ARGUMENT = -1,
    /** Host memory exhausted. */
    PI5_ERR_OUT_OF_MEMORY = -2,
    /** A caller buffer is too small; *out_len says what is needed. */
    PI5_ERR_BUFFER_TOO_SMALL = -3,
    /** The Vulkan backend was requested but no loader or usable device exists. */
    PI5_ERR_NO_DEVICE = -4,
    /** GPU memory exhausted. */
    PI5_ERR_OUT_OF_DEVICE_MEMORY = -5,
    /** The Vulkan device was lost; the runtime's GPU work is over (destroy it). */
    PI5_ERR_DEVICE_LOST = -6,
    /** A GPU submission did not finish within the timeout; the runtime's GPU work is over. */
    PI5_ERR_TIMEOUT = -7,
    /** The device or build does not support the request. */
    PI5_ERR_UNSUPPORTED = -8,
    /** A file could not be opened, read or written. */
    PI5_ERR_IO = -9,
    /** A model file is malformed or of an unsupported kind; pi5_last_error says what and where. */
    PI5_ERR_INVALID_MODEL = -10,
    /** The call needs a loaded model. */
    PI5_ERR_NO_MODEL = -11,
    /** The context (KV cache) is full. */
    PI5_ERR_CONTEXT_FULL = -12,
    /** A callback asked to stop. */
    PI5_ERR_ABORTED = -13,
    /** Any other Vulkan failure. */
    PI5_ERR_VULKAN = -14,
    /** A bug: please report it with pi5_last_error's text. */
    PI5_ERR_INTERNAL = -15,
    PI5_STATUS_FORCE_INT = 0x7fffffff
} pi5_status;

/** Which backend runs the work. */
typedef enum pi5_backend {
    /** From PI5_BACKEND, else Vulkan when usable with a CPU fallback. */
    PI5_BACKEND_AUTO = 0,
    PI5_BACKEND_CPU = 1,
    /** Vulkan or an error (no fallback). */
    PI5_BACKEND_VULKAN = 2,
    PI5_BACKEND_FORCE_INT = 0x7fffffff
} pi5_backend;

/** Limits profile applied to the device report before anything uses it. */
typedef enum pi5_limits_profile {
    /** From PI5_LIMITS, else none. */
    PI5_LIMITS_FROM_ENV = 0,
    /** The device as it is. */
    PI5_LIMITS_NONE = 1,
    /** Behave like the Raspberry Pi 5's V3DV: 256 invocations, 16 KiB shared memory, no fp16/int8 arithmetic, ... */
    PI5_LIMITS_V3DV = 2,
    PI5_LIMITS_FORCE_INT = 0x7fffffff
} pi5_limits_profile;

/** Log levels: a message is passed on when its level <= the configured level. */
typedef enum pi5_log_level {
    PI5_LOG_ERROR = 0,
    PI5_LOG_WARN = 1,
    PI5_LOG_INFO = 2,
    PI5_LOG_DEBUG = 3,
    PI5_LOG_FORCE_INT = 0x7fffffff
} pi5_log_level;

/**
 * Receives log messages. `message` is valid only during the call. Called on the thread that
 * made the library call; must not call back into the same runtime.
 */
typedef void (*pi5_log_callback)(int32_t level, const char *message, void *user_data);

/** An opaque runtime: a backend (Vulkan device or CPU) and everything loaded on it. */
typedef struct pi5_runtime pi5_runtime;

/** Options of pi5_create_runtime_ex. Start from pi5_runtime_default_options(). */
typedef struct pi5_runtime_options {
    /** sizeof(pi5_runtime_options) as the caller compiled it (set by the default function). */
    uint32_t struct_size;
    pi5_backend backend;
    /** Device index ("0") or case-insensitive name substring; NULL = PI5_DEVICE, else the best device (discrete > integrated > virtual > CPU). Copied during the call. */
    const char *device;
    pi5_limits_profile limits;
    /** -1 = from PI5_VALIDATE, 0 = off, 1 = Khronos validation layer on (messages are logged and counted). */
    int32_t validate;
    /** Longest wait for one GPU submission in milliseconds; 0 = 5000. */
    uint32_t timeout_ms;
    /** CPU threads; 0 = every core. */
    int32_t n_threads;
    /** Messages at or below this level reach the callback (or stderr without one). PI5_LOG also sets it. */
    pi5_log_level log_level;
    pi5_log_callback log_callback;
    void *log_user_data;
} pi5_runtime_options;

/** PI5_API_VERSION of the library actually loaded. Thread-safe. */
PI5_API uint32_t pi5_api_version(void);

/** The library version, e.g. "0.1.0". Static string. Thread-safe. */
PI5_API const char *pi5_version_string(void);

/** A static English description of a status; never NULL. Thread-safe. */
PI5_API const char *pi5_status_string(pi5_status status);

/** Default options: auto backend, limits and validation from the environment, 5 s timeout. Thread-safe. */
PI5_API pi5_runtime_options pi5_runtime_default_options(void);

/**
 * Creates a runtime with default options. Returns NULL on failure (the reason goes to stderr
 * at warn level). Destroy with pi5_destroy_runtime. Thread-safe.
 */
PI5_API pi5_runtime *pi5_create_runtime(void);

/**
 * Creates a runtime. `options` may be NULL (defaults). On success *out_runtime owns the new
 * runtime; on failure it is set to NULL and the reason goes to the log callback.
 * Returns PI5_OK, PI5_ERR_INVALID_ARGUMENT (NULL out_runtime, bad struct_size or enum value),
 * PI5_ERR_NO_DEVICE (Vulkan forced but unusable), PI5_ERR_OUT_OF_MEMORY. Thread-safe.
 */
PI5_API pi5_status pi5_create_runtime_ex(const pi5_runtime_options *options, pi5_runtime **out_runtime);

/** Destroys a runtime and everything it owns. NULL is a no-op. Not thread-safe for the same runtime. */
PI5_API void pi5_destroy_runtime(pi5_runtime *rt);

/** The backend in effect (never PI5_BACKEND_AUTO); PI5_BACKEND_CPU for NULL. */
PI5_API pi5_backend pi5_runtime_backend(const pi5_runtime *rt);

/**
 * The message of the last failed call on `rt` ("" if none). Owned by the runtime; valid until
 * the next call on it. Returns "" for NULL.
 */
PI5_API const char *pi5_last_error(const pi5_runtime *rt);

/**
 * Writes the runtime and device report as JSON into buf (see the buffer convention above):
 * backend, fallback reason, CPU, and for Vulkan the device name, type, driver, API version,
 * features, subgroup, limits (after the limits profile) and memory heaps.
 * Returns PI5_OK, PI5_ERR_BUFFER_TOO_SMALL, PI5_ERR_INVALID_ARGUMENT, PI5_ERR_OUT_OF_MEMORY.
 */
PI5_API pi5_status pi5_runtime_report(pi5_runtime *rt, char *buf, size_t buf_size, size_t *out_len);

#ifdef __cplusplus
}
#endif

#endif /* PI5_LLM_RT_H */
