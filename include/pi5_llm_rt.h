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

/*
 * Which error of the Zig core becomes which status. core/abi.zig statusOf is one switch with
 * no `else` over the closed set abi.Error, so an error added to the core does not compile until
 * it is given a status; a test (core/abi_header_test.zig) checks this table against statusOf
 * in both directions. PI5_OK and PI5_ERR_BUFFER_TOO_SMALL come from no error; PI5_ERR_NO_MODEL
 * comes from the ABI's own check that a model is loaded (and NoModel).
 *   PI5_ERR_INVALID_ARGUMENT      InvalidArgument InvalidOption BadShape InvalidConfig
 *                                 UnrepresentableText
 *   PI5_ERR_OUT_OF_MEMORY         OutOfMemory SystemResources ThreadQuotaExceeded
 *                                 LockedMemoryLimitExceeded
 *   PI5_ERR_NO_DEVICE             VulkanLoaderMissing NoVulkanDevice DeviceNotFound
 *                                 ValidationLayerMissing VulkanInitFailed
 *   PI5_ERR_OUT_OF_DEVICE_MEMORY  OutOfDeviceMemory
 *   PI5_ERR_DEVICE_LOST           DeviceLost
 *   PI5_ERR_TIMEOUT               GpuTimeout
 *   PI5_ERR_UNSUPPORTED           Unsupported UnsupportedModel TimerUnsupported
 *   PI5_ERR_IO                    FileNotFound AccessDenied PermissionDenied IsDir NotDir
 *                                 InputOutput NoSpaceLeft DiskQuota FileTooBig FileBusy
 *                                 DeviceBusy WouldBlock NoDevice SymLinkLoop NameTooLong
 *                                 BadPathName InvalidUtf8 InvalidWtf8 PathAlreadyExists
 *                                 FileLocksNotSupported LockViolation NetworkNotFound
 *                                 SharingViolation PipeBusy AntivirusInterference
 *                                 ProcessFdQuotaExceeded SystemFdQuotaExceeded
 *                                 MemoryMappingNotSupported Unseekable NotOpenForReading
 *                                 NotOpenForWriting BrokenPipe OperationAborted
 *                                 ConnectionResetByPeer ConnectionTimedOut SocketNotConnected
 *                                 ProcessNotFound Canceled Unexpected NotAFile
 *                                 LinkQuotaExceeded ReadOnlyFileSystem RenameAcrossMountPoints
 *   PI5_ERR_INVALID_MODEL         InvalidGguf InvalidCheckpoint InvalidGgjt DataSizeMismatch
 *                                 DuplicateKey DuplicateTensor InvalidTensor InvalidAlignment
 *                                 InvalidValue
 *   PI5_ERR_NO_MODEL              NoModel
 *   PI5_ERR_CONTEXT_FULL          ContextFull
 *   PI5_ERR_ABORTED               Aborted
 *   PI5_ERR_VULKAN                VulkanFailed DeviceError
 *   PI5_ERR_INTERNAL              BadLength EmptyLogits NeedQuantizer
 * Why: BadShape is the graph builder's "shapes or types do not fit the op", the caller's
 * argument at pi5_graph_*; InvalidConfig is a synthesized shape that does not fit.
 * UnsupportedModel is a well-formed file asking for an architecture or tensor type this build
 * does not run; a malformed one is InvalidGguf. NoDevice is the OS's ENODEV from a file call,
 * not a missing GPU. The GGUF writer's errors (DuplicateKey ... InvalidValue) arise only from
 * names, shapes and values copied from an input file. BadLength, EmptyLogits and NeedQuantizer
 * cannot be caused by a caller: they are bugs.
 */
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
    /**
     * From PI5_BACKEND, else Vulkan when usable with a CPU fallback. A CPU-type Vulkan device
     * (lavapipe, SwiftShader) is used only when asked for by name or index (device option,
     * PI5_DEVICE): otherwise the CPU backend, which is faster on the same cores, and the
     * runtime report's fallback_reason says so.
     */
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
 * at warn level and to pi5_last_error(NULL)). Destroy with pi5_destroy_runtime. Thread-safe.
 */
PI5_API pi5_runtime *pi5_create_runtime(void);

/**
 * Creates a runtime. `options` may be NULL (defaults). On success *out_runtime owns the new
 * runtime; on failure it is set to NULL and the reason goes to the log callback and to
 * pi5_last_error(NULL) (naming the offending field for invalid options).
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
 * the next call on it. With NULL: why the calling thread's last pi5_create_runtime[_ex] failed
 * ("" if it succeeded), thread-local storage valid until that thread creates again.
 */
PI5_API const char *pi5_last_error(const pi5_runtime *rt);

/**
 * Writes the runtime and device report as JSON into buf (see the buffer convention above):
 * backend, fallback reason, CPU, and for Vulkan the device name, type, driver, API version,
 * features, subgroup, limits (after the limits profile) and memory heaps.
 * Returns PI5_OK, PI5_ERR_BUFFER_TOO_SMALL, PI5_ERR_INVALID_ARGUMENT, PI5_ERR_OUT_OF_MEMORY.
 */
PI5_API pi5_status pi5_runtime_report(pi5_runtime *rt, char *buf, size_t buf_size, size_t *out_len);


/* ------------------------------------------------------------------------------------------ */
/* Models and text generation. A runtime holds at most one loaded model with its KV cache;     */
/* loading another replaces it. Token ids are int32.                                          */
/* ------------------------------------------------------------------------------------------ */

typedef int32_t pi5_token;

/** Element type of the KV cache. */
typedef enum pi5_kv_type {
    /** F16. */
    PI5_KV_DEFAULT = 0,
    PI5_KV_F16 = 1,
    PI5_KV_F32 = 2,
    PI5_KV_FORCE_INT = 0x7fffffff
} pi5_kv_type;

/**
 * Progress of a load (or of a model-file tool, see "Model files"), 0..1. Return 0 to continue,
 * nonzero to abort (pi5_load_model_ex then returns PI5_ERR_ABORTED). Called on the calling thread.
 */
typedef int32_t (*pi5_progress_callback)(float progress, void *user_data);

/** Options of pi5_load_model_ex. Start from pi5_model_default_options(). */
typedef struct pi5_model_options {
    /** sizeof(pi5_model_options) as the caller compiled it (set by the default function). */
    uint32_t struct_size;
    /** Context length in tokens; 0 = the model's, capped at 4096. */
    uint32_t n_ctx;
    pi5_kv_type kv_type;
    /** Transformer layers placed on the GPU: -1 = all that fit the budget, 0 = none (CPU only). */
    int32_t n_gpu_layers;
    /** Most GPU memory the model may take, in bytes; 0 = no limit beyond the device's. */
    uint64_t gpu_budget_bytes;
    /** Prompt tokens evaluated per step; 0 = 64. */
    uint32_t n_batch;
    pi5_progress_callback progress_callback;
    void *progress_user_data;
    /**
     * Nonzero: read only the vocabulary (tokenizer.ggml.*; files without weights such as
     * llama.cpp's ggml-vocab-*.gguf work). Tokenizer calls work; pi5_eval, pi5_generate and the
     * other calls that need weights return PI5_ERR_UNSUPPORTED saying so. Added after
     * progress_user_data: a struct_size from before it (48 on LP64) is still accepted.
     */
    int32_t vocab_only;
    /**
     * Nonzero: read the whole file into memory at load and close it, instead of keeping it
     * memory-mapped (llama.cpp's use_mmap = false). Then truncating or rewriting the file while
     * the model is loaded cannot fault a later token; it costs the read and memory for the file.
     * Added after vocab_only, in what was padding: sizeof is unchanged.
     */
    int32_t no_mmap;
} pi5_model_options;

/** Default model options: context from the model (≤ 4096), F16 KV cache, all layers on the GPU. Thread-safe. */
PI5_API pi5_model_options pi5_model_default_options(void);

/**
 * Loads a GGUF model (llama, phi2 or gpt2 architectures) into the runtime, replacing any loaded
 * model. `path` is read during the call (the file stays memory-mapped while loaded: do not
 * truncate or rewrite it meanwhile, or load with `no_mmap`). Anything but a regular file (or a symlink to one) is
 * refused with PI5_ERR_IO before it is opened (a FIFO would block, a directory cannot be mapped).
 * Returns PI5_OK, PI5_ERR_INVALID_ARGUMENT, PI5_ERR_IO, PI5_ERR_INVALID_MODEL (pi5_last_error
 * names the problem and where), PI5_ERR_UNSUPPORTED (architecture or tensor type),
 * PI5_ERR_OUT_OF_MEMORY, PI5_ERR_OUT_OF_DEVICE_MEMORY, PI5_ERR_ABORTED.
 */
PI5_API pi5_status pi5_load_model(pi5_runtime *rt, const char *path);

/** pi5_load_model with options (NULL = defaults). Same return codes. */
PI5_API pi5_status pi5_load_model_ex(pi5_runtime *rt, const char *path, const pi5_model_options *options);

/**
 * Unloads the runtime's model (weights, KV cache, graph, the file mapping); the runtime stays
 * usable and a later pi5_load_model loads another. Returns PI5_OK (also when none was loaded)
 * or PI5_ERR_INVALID_ARGUMENT (rt NULL). Not concurrently with other calls on `rt`.
 */
PI5_API pi5_status pi5_unload_model(pi5_runtime *rt);

/**
 * Model information as JSON into buf (buffer convention): architecture, name, n_vocab, n_embd,
 * n_layer, n_head, n_head_kv, n_ctx (in effect), n_ctx_train, rope settings, weight types,
 * tokenizer kind and special tokens, GPU layers in effect and bytes placed on each backend,
 * chat template (if any). PI5_ERR_NO_MODEL without a model.
 */
PI5_API pi5_status pi5_model_info(pi5_runtime *rt, char *buf, size_t buf_size, size_t *out_len);

/** Vocabulary size of the loaded model; 0 without a model or for NULL. */
PI5_API int32_t pi5_n_vocab(const pi5_runtime *rt);
/** Embedding width of the loaded model; 0 without a model or for NULL. */
PI5_API int32_t pi5_n_embd(const pi5_runtime *rt);
/** Context length in effect; 0 without a model or for NULL. */
PI5_API int32_t pi5_n_ctx(const pi5_runtime *rt);
/** Beginning-of-sequence token, or -1. */
PI5_API pi5_token pi5_token_bos(const pi5_runtime *rt);
/** End-of-sequence token, or -1. */
PI5_API pi5_token pi5_token_eos(const pi5_runtime *rt);
/** Nonzero when `token` ends generation (EOS, EOT and the like). */
PI5_API int32_t pi5_token_is_eog(const pi5_runtime *rt, pi5_token token);

/**
 * Tokenizes UTF-8 text (text_len bytes; need not be NUL-terminated). add_special: prepend BOS
 * (and append EOS) as the model's vocabulary asks; parse_special: text like "<s>" becomes the
 * special token. Writes at most max_tokens ids; *out_n is always the number needed. Returns
 * PI5_ERR_BUFFER_TOO_SMALL when max_tokens is too small, PI5_ERR_NO_MODEL, PI5_ERR_INVALID_ARGUMENT
 * (also for text the vocabulary cannot represent: no byte token and no <unk> for a character).
 * The tokenizer calls (pi5_tokenize, pi5_token_to_piece, pi5_detokenize, pi5_token_is_eog) only
 * read the vocabulary: they may run on another thread while pi5_generate or pi5_eval runs on
 * the same runtime (pi5_last_error may then hold either call's message).
 */
PI5_API pi5_status pi5_tokenize(pi5_runtime *rt, const char *text, size_t text_len, int32_t add_special,
                                int32_t parse_special, pi5_token *tokens, size_t max_tokens, size_t *out_n);

/**
 * The bytes of one token (buffer convention; not necessarily complete UTF-8: byte-fallback
 * tokens carry single bytes). Control tokens render empty unless `special` is nonzero.
 */
PI5_API pi5_status pi5_token_to_piece(pi5_runtime *rt, pi5_token token, int32_t special, char *buf,
                                      size_t buf_size, size_t *out_len);

/** Text of a token sequence (buffer convention), as llama.cpp's llama_detokenize. */
PI5_API pi5_status pi5_detokenize(pi5_runtime *rt, const pi5_token *tokens, size_t n_tokens, char *buf,
                                  size_t buf_size, size_t *out_len);

/**
 * Evaluates `n_tokens` tokens at the next positions of the KV cache and, when logits is not
 * NULL, writes the n_vocab logits of the last token. Returns PI5_ERR_CONTEXT_FULL when the
 * tokens do not fit (nothing is evaluated), PI5_ERR_NO_MODEL, PI5_ERR_INVALID_ARGUMENT (a token
 * out of range), device errors.
 */
PI5_API pi5_status pi5_eval(pi5_runtime *rt, const pi5_token *tokens, size_t n_tokens, float *logits);

/**
 * One step on an embedding: `input` holds n_embd floats used in place of a token embedding at
 * the next position of the KV cache; writes n_vocab logits to `output`. (For hosts that compute
 * their own embeddings; to feed token ids use pi5_eval.) Same return codes as pi5_eval.
 */
PI5_API pi5_status pi5_infer(pi5_runtime *rt, const float *input, float *output);

/** Tokens held in the KV cache (the next position). 0 without a model. */
PI5_API int32_t pi5_kv_pos(const pi5_runtime *rt);
/** Empties the KV cache. */
PI5_API pi5_status pi5_kv_clear(pi5_runtime *rt);
/** Keeps the first n_keep positions of the KV cache and drops the rest (n_keep ≤ pi5_kv_pos). */
PI5_API pi5_status pi5_kv_truncate(pi5_runtime *rt, int32_t n_keep);
/**
 * Saves the session (tokens evaluated and the KV cache rows in use) to a file that
 * pi5_state_load can restore with the same model. Returns PI5_ERR_IO on write failure.
 */
PI5_API pi5_status pi5_state_save(pi5_runtime *rt, const char *path);
/** Restores a session saved by pi5_state_save; PI5_ERR_INVALID_MODEL if it belongs to another model or is damaged. */
PI5_API pi5_status pi5_state_load(pi5_runtime *rt, const char *path);

/** Sampling settings, llama.cpp's semantics and chain order (penalties, top-k, top-p, min-p, temperature). */
typedef struct pi5_sampling_params {
    uint32_t struct_size;
    /** 0 = greedy; finite, >= 0. */
    float temperature;
    /** 0 = off; >= 0. */
    int32_t top_k;
    /** 1 = off; in [0, 1]. */
    float top_p;
    /** 0 = off; in [0, 1]. */
    float min_p;
    /** 1 = off; finite, > 0. */
    float repeat_penalty;
    /** Finite. */
    float frequency_penalty;
    /** Finite. */
    float presence_penalty;
    /** Recent tokens the penalties look at; -1 = the whole context. */
    int32_t penalty_last_n;
    /** Same seed, same settings, same prompt: same output. UINT64_MAX ((uint64_t)-1, llama.cpp's LLAMA_DEFAULT_SEED): a random seed per call, reported in pi5_generate_result.seed. */
    uint64_t seed;
} pi5_sampling_params;

/**
 * Defaults: temperature 0.8, top_k 40, top_p 0.95, min_p 0.05, no penalties, seed UINT64_MAX (random).
 * Values out of the ranges above make pi5_generate return PI5_ERR_INVALID_ARGUMENT naming the field. Thread-safe.
 */
PI5_API pi5_sampling_params pi5_sampling_default_params(void);

/**
 * Receives generated text as it is produced: called once per generated token with the text
 * that became final at it, `piece` holding piece_len bytes of complete UTF-8 (valid only during
 * the call). piece_len is 0 while a token's bytes are held back (an incomplete UTF-8 sequence,
 * a possible stop string); a last call with token -1 delivers what was still held at the end.
 * Return 0 to continue, nonzero to stop (pi5_generate then returns PI5_ERR_ABORTED). Called on
 * the generating thread.
 */
typedef int32_t (*pi5_token_callback)(pi5_token token, const char *piece, size_t piece_len, void *user_data);

/** Why generation ended. */
typedef enum pi5_stop_reason {
    PI5_STOP_NONE = 0,
    PI5_STOP_EOG = 1,
    PI5_STOP_MAX_TOKENS = 2,
    PI5_STOP_STRING = 3,
    PI5_STOP_ABORTED = 4,
    PI5_STOP_CONTEXT_FULL = 5,
    PI5_STOP_FORCE_INT = 0x7fffffff
} pi5_stop_reason;

/** Options of pi5_generate. Start from pi5_generate_default_options(). */
typedef struct pi5_generate_options {
    uint32_t struct_size;
    /** Most tokens to generate; 0 = until EOG or the context is full. */
    int32_t max_tokens;
    pi5_sampling_params sampling;
    /** Stop strings (UTF-8, NUL-terminated); generation ends before the first one. May be NULL. */
    const char *const *stop;
    size_t n_stop;
    /**
     * Nonzero: clear the KV cache and tokenize the prompt with BOS first (default 1). 0: continue
     * the session (every emitted token, the last one included, is already in the KV cache).
     */
    int32_t reset;
    pi5_token_callback on_token;
    void *user_data;
} pi5_generate_options;

/** Counts and timings of one pi5_generate call. */
typedef struct pi5_generate_result {
    int32_t n_prompt_tokens;
    int32_t n_generated;
    double prompt_ms;
    double generate_ms;
    pi5_stop_reason stop_reason;
    /** The seed in effect (the random one drawn for UINT64_MAX). */
    uint64_t seed;
} pi5_generate_result;

/** Defaults: max_tokens 128, default sampling, reset 1, no stop strings, no callback. Thread-safe. */
PI5_API pi5_generate_options pi5_generate_default_options(void);

/**
 * Generates text after `prompt` (UTF-8, NUL-terminated): streams pieces to options->on_token,
 * and writes the whole generated text to `out` (buffer convention; out may be NULL with
 * out_size 0 when only the callback is wanted — then PI5_OK is returned, not
 * BUFFER_TOO_SMALL). `result` (may be NULL) receives counts, timings and the stop reason.
 * Returns PI5_OK, PI5_ERR_ABORTED (callback stopped it; text so far is kept), PI5_ERR_NO_MODEL,
 * PI5_ERR_BUFFER_TOO_SMALL, device errors.
 */
PI5_API pi5_status pi5_generate(pi5_runtime *rt, const char *prompt, const pi5_generate_options *options,
                                char *out, size_t out_size, size_t *out_len, pi5_generate_result *result);

/* ------------------------------------------------------------------------------------------ */
/* Model files: inspect, convert, quantize and synthesize GGUF files (the CLI's tools).        */
/* ------------------------------------------------------------------------------------------ */

/*
 * These functions work on files only: they neither need nor change the runtime's loaded model.
 * `rt` must not be NULL (PI5_ERR_INVALID_ARGUMENT otherwise); it receives the error message
 * (pi5_last_error(rt)), so the threading rule is the runtime's: one thread at a time per runtime.
 * Paths are UTF-8, NUL-terminated, read during the call. An output file is created or replaced;
 * on any failure (including PI5_ERR_ABORTED) a partially written output is removed.
 * `progress` (may be NULL) is called on the calling thread with increasing values, from 0 before
 * any work to 1 when the output is complete; returning nonzero stops the work and the function
 * returns PI5_ERR_ABORTED. Common returns: PI5_ERR_INVALID_ARGUMENT (a NULL argument, an unknown
 * type/arch/preset string), PI5_ERR_IO (a file cannot be opened, read or written),
 * PI5_ERR_INVALID_MODEL (an input file is malformed or of the wrong kind: pi5_last_error names
 * the problem and where), PI5_ERR_OUT_OF_MEMORY, PI5_ERR_ABORTED.
 */

/**
 * The metadata keys and tensor table of the GGUF at `path` as text, as llama.cpp's gguf-dump
 * (buffer convention). Returns PI5_OK, PI5_ERR_BUFFER_TOO_SMALL, PI5_ERR_IO, PI5_ERR_INVALID_MODEL.
 */
PI5_API pi5_status pi5_gguf_inspect(pi5_runtime *rt, const char *path, char *buf, size_t buf_size, size_t *out_len);

/**
 * Converts a llama.c checkpoint (`checkpoint`, e.g. stories260K.bin) and its tokenizer.bin
 * (`tokenizer`) to a GGUF llama model at `out_path` (F32, as llama.cpp's convert-llama2c).
 */
PI5_API pi5_status pi5_convert_llama2c(pi5_runtime *rt, const char *checkpoint, const char *tokenizer,
                                       const char *out_path, pi5_progress_callback progress, void *user_data);

/** Converts a GGJT (legacy ggml, v1..v3) llama model at `in_path` to GGUF at `out_path`. */
PI5_API pi5_status pi5_convert_ggjt(pi5_runtime *rt, const char *in_path, const char *out_path,
                                    pi5_progress_callback progress, void *user_data);

/**
 * Requantizes the F32/F16 weight matrices of the GGUF at `in_path` into `out_path` (as
 * llama-quantize): `type` is one of "F32" "F16" "Q8_0" "Q4_0" "Q4_1" "Q5_0" "Q5_1" "Q4_K"
 * "Q4_K_S" "Q5_K" "Q6_K" "Q4_K_M" (case-insensitive; Q4_K_M is llama.cpp's Q4_K/Q6_K mix).
 * 1-D tensors and rows that are not whole blocks of the type keep their type. An input whose
 * matrices are already quantized is refused with PI5_ERR_INVALID_MODEL.
 */
PI5_API pi5_status pi5_quantize_model(pi5_runtime *rt, const char *in_path, const char *out_path, const char *type,
                                      pi5_progress_callback progress, void *user_data);

/** Options of pi5_synth_model. Start from pi5_synth_default_options(). */
typedef struct pi5_synth_options {
    /** sizeof(pi5_synth_options) as the caller compiled it (set by the default function). */
    uint32_t struct_size;
    /** "llama", "phi2" or "gpt2" (default "llama"; NULL = default). */
    const char *arch;
    /** Shape preset: "tiny", "tinyllama-1.1b", "llama2-7b" or "mistral-7b" (default "tiny"; NULL = default). */
    const char *preset;
    /** Type of the 2-D weight matrices, a ggml type name ("F32", "F16", "Q8_0", "Q4_K" ...; default "F32"). */
    const char *weight_type;
    /** A GGUF whose tokenizer.* keys are copied (n_vocab follows it); NULL = no tokenizer keys. */
    const char *vocab_path;
    /** Same seed, same options: same file. */
    uint64_t seed;
    /** Shape overrides; 0 = the preset's value (gpt2 always uses n_head_kv = n_head). */
    uint32_t n_embd;
    uint32_t n_ff;
    uint32_t n_layer;
    uint32_t n_head;
    uint32_t n_head_kv;
    uint32_t n_ctx;
    pi5_progress_callback progress_callback;
    void *progress_user_data;
} pi5_synth_options;

/** Defaults: llama, tiny, F32, no vocab, seed 0, no overrides, no progress. Strings are static. Thread-safe. */
PI5_API pi5_synth_options pi5_synth_default_options(void);

/**
 * Writes a model with random weights (N(0, 1/fan_in), norms 1) of the options' shape to
 * `out_path`, for tests and benchmarks (options NULL = defaults). Returns PI5_ERR_INVALID_ARGUMENT
 * also for a bad struct_size or a shape that does not fit (n_embd not a multiple of n_head ...),
 * PI5_ERR_IO / PI5_ERR_INVALID_MODEL for the vocab file.
 */
PI5_API pi5_status pi5_synth_model(pi5_runtime *rt, const pi5_synth_options *options, const char *out_path);

/* ------------------------------------------------------------------------------------------ */
/* Graphs: build and run your own compute graphs on the runtime's backend.                     */
/* (section owned by core/graph; see below)                                                   */
/* ------------------------------------------------------------------------------------------ */

/*
 * A graph is a DAG of tensors built once for at most `max_tokens` tokens per step, planned on
 * first use (placement on GPU/CPU, static memory, recorded GPU work) and then run once per step
 * with only (pos, n_tokens) changing. Tensor handles are int32 ids (>= 0) valid for their graph;
 * -1 means "none". Shapes are uint64 ne[4], ne[0] the row length (ggml order), unused dims 1.
 * Types are ggml type ids (0 F32, 1 F16, 2 Q4_0, 8 Q8_0, 12 Q4_K, 14 Q6_K, 26 I32 ...).
 * Activations are F32; token-dependent tensors have an outermost token dim (max_tokens when
 * built, n_tokens when a step runs). After the graph is planned (first pi5_graph_plan,
 * pi5_graph_set_input or pi5_graph_compute) builder calls return PI5_ERR_INVALID_ARGUMENT.
 * A graph belongs to its runtime: destroy it before the runtime; same threading as the runtime.
 */

/** An opaque compute graph on a runtime. */
typedef struct pi5_graph pi5_graph;

/** Where the planner puts nodes. */
typedef enum pi5_graph_policy {
    /** Every node with a GPU kernel on the GPU when the runtime has a device, else the CPU. */
    PI5_GRAPH_POLICY_AUTO = 0,
    /** Every node on the CPU. */
    PI5_GRAPH_POLICY_CPU = 1,
    /** Nodes of layers < n_gpu_layers on the GPU; layer-less nodes only when all layers are. */
    PI5_GRAPH_POLICY_GPU_LAYERS = 2,
    /** Layers in order on the GPU while their weights fit in gpu_budget_bytes. */
    PI5_GRAPH_POLICY_GPU_BUDGET = 3,
    PI5_GRAPH_POLICY_FORCE_INT = 0x7fffffff
} pi5_graph_policy;

/** Options of pi5_graph_create. Start from pi5_graph_default_options(). */
typedef struct pi5_graph_options {
    /** sizeof(pi5_graph_options) as the caller compiled it (set by the default function). */
    uint32_t struct_size;
    /** A pi5_graph_policy value. */
    int32_t policy;
    /** For PI5_GRAPH_POLICY_GPU_LAYERS. */
    uint32_t n_gpu_layers;
    /** Most tokens of one step (>= 1). */
    uint32_t max_tokens;
    /** For PI5_GRAPH_POLICY_GPU_BUDGET: bytes of weights allowed on the GPU. */
    uint64_t gpu_budget_bytes;
    /** 1: record per-node times (GPU timestamps, CPU timers) for pi5_graph_profile_json. */
    int32_t profile;
    /** Must be 0. */
    int32_t reserved;
} pi5_graph_options;

/**
 * Ops of pi5_graph_op (a pi5_graph_op_kind value): src[0..2] are tensor ids (-1 = unused), params[0..3] floats.
 *   GET_ROWS    src: weight [n_embd, n_rows] (any type), ids I32 [1, T]        -> F32 [n_embd, T]
 *   MUL_MAT     src: weight [n_in, n_out] (any type), x F32 [n_in, T]         -> [n_out, T]
 *   RMS_NORM    src: x; params: eps
 *   LAYER_NORM  src: x, weight or -1, bias or -1; params: eps
 *   ADD, MUL    src: a, b (b: a's shape, or one row of a.ne[0] broadcast)
 *   SCALE       src: x; params: factor
 *   SILU, GELU  src: x (GELU: tanh approximation)
 *   SWIGLU      src: gate, up -> silu(gate) * up
 *   SOFTMAX     src: x; params: scale, causal (0/1; row r of token t sees columns 0..pos+t)
 *   ROPE        src: x [head_dim, n_head, T]; params: n_rot, mode (0 normal, 2 neox), freq_base, freq_scale
 *   KV_STORE    src: cache (a state [head_dim, n_head_kv, n_ctx]), rows F32 [n_head_kv*head_dim, T];
 *               writes rows at pos .. pos+n_tokens-1; returns the cache after the write
 *   ATTENTION   src: q [head_dim, n_head, T], k cache, v cache (KV_STORE results);
 *               params: n_head_kv, scale (0 = 1/sqrt(head_dim)); causal over 0..pos+t
 *   CPY         src: x; params: ggml type of the copy (0 F32, 1 F16)
 *   LAST_ROW    src: x [ne0, T] -> [ne0, 1], row n_tokens-1
 *   POSITIONS   no src -> I32 [1, T] = pos .. pos+n_tokens-1 (one per graph)
 */
typedef enum pi5_graph_op_kind {
    PI5_GRAPH_OP_GET_ROWS = 1,
    PI5_GRAPH_OP_MUL_MAT = 2,
    PI5_GRAPH_OP_RMS_NORM = 3,
    PI5_GRAPH_OP_LAYER_NORM = 4,
    PI5_GRAPH_OP_ADD = 5,
    PI5_GRAPH_OP_MUL = 6,
    PI5_GRAPH_OP_SCALE = 7,
    PI5_GRAPH_OP_SILU = 8,
    PI5_GRAPH_OP_GELU = 9,
    PI5_GRAPH_OP_SWIGLU = 10,
    PI5_GRAPH_OP_SOFTMAX = 11,
    PI5_GRAPH_OP_ROPE = 12,
    PI5_GRAPH_OP_KV_STORE = 13,
    PI5_GRAPH_OP_ATTENTION = 14,
    PI5_GRAPH_OP_CPY = 15,
    PI5_GRAPH_OP_LAST_ROW = 16,
    PI5_GRAPH_OP_POSITIONS = 17,
    PI5_GRAPH_OP_FORCE_INT = 0x7fffffff
} pi5_graph_op_kind;

/** Defaults: policy AUTO, max_tokens 1, no profiling. Thread-safe. */
PI5_API pi5_graph_options pi5_graph_default_options(void);

/**
 * Creates an empty graph on `rt` (options NULL = defaults). *out_graph is NULL on failure.
 * Returns PI5_OK, PI5_ERR_INVALID_ARGUMENT (NULL rt/out, bad struct_size or policy, max_tokens 0),
 * PI5_ERR_OUT_OF_MEMORY. Destroy with pi5_graph_destroy before destroying rt.
 */
PI5_API pi5_status pi5_graph_create(pi5_runtime *rt, const pi5_graph_options *options, pi5_graph **out_graph);

/** Destroys a graph and everything it planned; NULL is a no-op. */
PI5_API void pi5_graph_destroy(pi5_graph *graph);

/**
 * Declares a per-token input [row_len, max_tokens] of type F32 (0) or I32 (26; row_len 1 for
 * token ids). `name` may be NULL (copied). *out_id is -1 on failure.
 * Returns PI5_OK, PI5_ERR_INVALID_ARGUMENT (bad type, planned graph), PI5_ERR_OUT_OF_MEMORY.
 */
PI5_API pi5_status pi5_graph_input(pi5_graph *graph, const char *name, int32_t ggml_type, uint64_t row_len, int32_t *out_id);

/**
 * Declares a weight of any ggml type and shape ne[4]; `size` bytes of `data` (exactly the
 * tensor's bytes) are copied, the caller keeps its memory. *out_id is -1 on failure.
 * Returns PI5_OK, PI5_ERR_INVALID_ARGUMENT (size or shape does not fit the type), PI5_ERR_OUT_OF_MEMORY.
 */
PI5_API pi5_status pi5_graph_weight(pi5_graph *graph, const char *name, int32_t ggml_type, const uint64_t ne[4], const void *data, size_t size, int32_t *out_id);

/**
 * Declares persistent state (a KV cache [head_dim, n_head_kv, n_ctx]) of F32 or F16, zeroed when
 * the graph is planned and kept across steps. *out_id is -1 on failure.
 */
PI5_API pi5_status pi5_graph_state(pi5_graph *graph, const char *name, int32_t ggml_type, const uint64_t ne[4], int32_t *out_id);

/**
 * Adds a node (see pi5_graph_op_kind for src and params per op). `src` may be NULL (all -1),
 * `params` may be NULL (all 0). *out_id is the new tensor, -1 on failure.
 * Returns PI5_OK, PI5_ERR_INVALID_ARGUMENT (unknown op, bad id, shapes or types that do not fit:
 * pi5_last_error says which), PI5_ERR_OUT_OF_MEMORY.
 */
PI5_API pi5_status pi5_graph_op(pi5_graph *graph, int32_t op, const int32_t src[3], const float params[4], int32_t *out_id);

/**
 * A free view of `src` with shape ne[4]: a reshape (offset 0, same element count; a token
 * tensor keeps its token dim outermost) or, for a static tensor (weight, state), a contiguous
 * slice starting at element `offset` (e.g. rows of a fused QKV weight). *out_id is -1 on failure.
 */
PI5_API pi5_status pi5_graph_view(pi5_graph *graph, int32_t src, const uint64_t ne[4], uint64_t offset, int32_t *out_id);

/** Nodes added after this call belong to `layer` (-1: none), for PI5_GRAPH_POLICY_GPU_LAYERS/BUDGET. */
PI5_API pi5_status pi5_graph_set_layer(pi5_graph *graph, int32_t layer);

/** Marks `id` as an output: kept to the end of each step and readable with pi5_graph_read. */
PI5_API pi5_status pi5_graph_mark_output(pi5_graph *graph, int32_t id);

/**
 * Plans the graph now (otherwise the first set_input/compute does): placement, memory, weight
 * upload, GPU recording. Returns PI5_OK, PI5_ERR_INVALID_ARGUMENT, PI5_ERR_UNSUPPORTED,
 * PI5_ERR_OUT_OF_MEMORY, PI5_ERR_OUT_OF_DEVICE_MEMORY, device errors.
 */
PI5_API pi5_status pi5_graph_plan(pi5_graph *graph);

/**
 * Copies `size` bytes into input `id` for the next step: n_tokens whole rows of a per-token
 * input. Plans the graph if needed. Returns PI5_OK, PI5_ERR_INVALID_ARGUMENT (not an input,
 * size not whole rows or too large), planning errors.
 */
PI5_API pi5_status pi5_graph_set_input(pi5_graph *graph, int32_t id, const void *data, size_t size);

/**
 * Runs one step of n_tokens (1..max_tokens) tokens at positions pos .. pos+n_tokens-1.
 * Allocates nothing and records nothing after the plan. Returns PI5_OK, PI5_ERR_INVALID_ARGUMENT,
 * PI5_ERR_CONTEXT_FULL (pos+n_tokens past a KV cache), PI5_ERR_TIMEOUT, PI5_ERR_DEVICE_LOST, ...
 */
PI5_API pi5_status pi5_graph_compute(pi5_graph *graph, uint32_t pos, uint32_t n_tokens);

/**
 * Copies the last step's value of output (or input/state) `id` into `out`: n_tokens rows of a
 * token tensor, else the whole tensor. *out_len (may be NULL) is always set to the bytes needed;
 * PI5_ERR_BUFFER_TOO_SMALL when out_size is smaller. Returns PI5_OK, PI5_ERR_INVALID_ARGUMENT
 * (not an output, not computed yet), PI5_ERR_BUFFER_TOO_SMALL, device errors.
 */
PI5_API pi5_status pi5_graph_read(pi5_graph *graph, int32_t id, void *out, size_t out_size, size_t *out_len);

/**
 * The last step's profile as JSON (buffer convention): {"enabled":b,"nodes":[{"id","name","op",
 * "backend","layer","ns"}...],"ops":[{"op","backend","count","ns"}...],"total_ns","segments",
 * "transfers"}. Nodes are listed only with options.profile = 1. Returns PI5_OK,
 * PI5_ERR_BUFFER_TOO_SMALL, PI5_ERR_INVALID_ARGUMENT (not planned).
 */
PI5_API pi5_status pi5_graph_profile_json(pi5_graph *graph, char *buf, size_t buf_size, size_t *out_len);

#ifdef __cplusplus
}
#endif

#endif /* PI5_LLM_RT_H */
