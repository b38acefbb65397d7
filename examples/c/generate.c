/*
 * Loads libpi5_llm_rt.so at run time (dlopen + dlsym), loads a model (default: stories260K.gguf
 * from $PI5_MODELS_DIR or ../shared/models) and streams generated text to stdout.
 *
 *   cc -I include examples/c/generate.c -ldl -o generate
 *   ./generate [model.gguf] [prompt] [n_tokens] [temperature] [seed]
 * Library: $PI5_LLM_RT_LIB, else the system loader. Backend: CPU unless PI5_BACKEND says otherwise.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pi5_llm_rt.h"

#define RESOLVE(lib, name)                                                          \
    name##_fn name = (name##_fn)dlsym(lib, #name);                                  \
    if (!name) {                                                                    \
        fprintf(stderr, "generate: %s missing from the library: %s\n", #name, dlerror()); \
        return 1;                                                                   \
    }

typedef pi5_runtime_options (*pi5_runtime_default_options_fn)(void);
typedef pi5_status (*pi5_create_runtime_ex_fn)(const pi5_runtime_options *, pi5_runtime **);
typedef void (*pi5_destroy_runtime_fn)(pi5_runtime *);
typedef const char *(*pi5_last_error_fn)(const pi5_runtime *);
typedef const char *(*pi5_status_string_fn)(pi5_status);
typedef pi5_status (*pi5_load_model_fn)(pi5_runtime *, const char *);
typedef pi5_generate_options (*pi5_generate_default_options_fn)(void);
typedef pi5_status (*pi5_generate_fn)(pi5_runtime *, const char *, const pi5_generate_options *, char *, size_t, size_t *,
                                      pi5_generate_result *);

static int32_t on_token(pi5_token token, const char *piece, size_t piece_len, void *user_data) {
    (void)token;
    (void)user_data;
    fwrite(piece, 1, piece_len, stdout); /* piece is not NUL-terminated: use its length */
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    char model_buf[4096];
    const char *model = argc > 1 && argv[1][0] ? argv[1] : NULL;
    if (!model) {
        const char *dir = getenv("PI5_MODELS_DIR");
        snprintf(model_buf, sizeof model_buf, "%s/stories260K.gguf", dir ? dir : "../shared/models");
        model = model_buf;
    }
    const char *prompt = argc > 2 ? argv[2] : "Once upon a time";
    int n = argc > 3 ? atoi(argv[3]) : 64;
    float temp = argc > 4 ? (float)atof(argv[4]) : 0.8f;
    unsigned long long seed = argc > 5 ? strtoull(argv[5], NULL, 10) : 0;

    const char *path = getenv("PI5_LLM_RT_LIB");
    void *lib = dlopen(path ? path : "libpi5_llm_rt.so", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "generate: cannot load the library: %s\n", dlerror());
        return 1;
    }
    RESOLVE(lib, pi5_runtime_default_options)
    RESOLVE(lib, pi5_create_runtime_ex)
    RESOLVE(lib, pi5_destroy_runtime)
    RESOLVE(lib, pi5_last_error)
    RESOLVE(lib, pi5_status_string)
    RESOLVE(lib, pi5_load_model)
    RESOLVE(lib, pi5_generate_default_options)
    RESOLVE(lib, pi5_generate)

    pi5_runtime_options ro = pi5_runtime_default_options();
    if (!getenv("PI5_BACKEND")) ro.backend = PI5_BACKEND_CPU;
    pi5_runtime *rt = NULL;
    pi5_status s = pi5_create_runtime_ex(&ro, &rt);
    if (s != PI5_OK) {
        fprintf(stderr, "generate: cannot create a runtime: %s\n", pi5_last_error(NULL));
        return 1;
    }
    s = pi5_load_model(rt, model);
    if (s != PI5_OK) {
        fprintf(stderr, "generate: cannot load %s: %s (%s)\n", model, pi5_last_error(rt), pi5_status_string(s));
        pi5_destroy_runtime(rt);
        return 1;
    }
    pi5_generate_options go = pi5_generate_default_options();
    go.max_tokens = n;
    go.sampling.temperature = temp;
    go.sampling.seed = seed;
    go.on_token = on_token;
    pi5_generate_result res;
    fputs(prompt, stdout);
    s = pi5_generate(rt, prompt, &go, NULL, 0, NULL, &res);
    fputs("\n", stdout);
    if (s != PI5_OK) {
        fprintf(stderr, "generate: %s (%s)\n", pi5_last_error(rt), pi5_status_string(s));
        pi5_destroy_runtime(rt);
        return 1;
    }
    fprintf(stderr, "generated %d tokens in %.1f ms (%.1f tok/s)\n", res.n_generated, res.generate_ms,
            res.generate_ms > 0 ? res.n_generated * 1000.0 / res.generate_ms : 0.0);
    pi5_destroy_runtime(rt);
    dlclose(lib);
    return 0;
}
