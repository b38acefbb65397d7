/* Load/unload and concurrency stress through the C ABI, dlopened as a host would:
 *   1. one runtime loads and unloads MODEL `cycles` times; every `check`th cycle generates 16
 *      greedy tokens, which must equal the first cycle's text;
 *   2. `threads` threads each create their own runtime, load MODEL, generate the same 16 greedy
 *      tokens and destroy it; every text must equal (1)'s.
 * Then a 1 ms GPU timeout while loading (on a Vulkan runtime) must fail with PI5_ERR_TIMEOUT or
 * succeed, never crash. Run under valgrind by scripts/test.sh (no definite leak, no error).
 * Usage: stress LIB.so MODEL.gguf [cycles=1000] [threads=100] */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pi5_llm_rt.h"

typedef pi5_runtime_options (*default_options_fn)(void);
typedef pi5_status (*create_ex_fn)(const pi5_runtime_options *, pi5_runtime **);
typedef void (*destroy_fn)(pi5_runtime *);
typedef pi5_status (*load_fn)(pi5_runtime *, const char *);
typedef pi5_status (*unload_fn)(pi5_runtime *);
typedef pi5_generate_options (*gen_default_fn)(void);
typedef pi5_status (*generate_fn)(pi5_runtime *, const char *, const pi5_generate_options *, char *, size_t, size_t *,
                                  pi5_generate_result *);
typedef const char *(*last_error_fn)(const pi5_runtime *);

static default_options_fn default_options;
static create_ex_fn create_ex;
static destroy_fn destroy;
static load_fn load;
static unload_fn unload;
static gen_default_fn gen_default;
static generate_fn generate;
static last_error_fn last_error;
static const char *model_path;
static char expected[4096];

static int greedy(pi5_runtime *rt, char *out, size_t out_size) {
    pi5_generate_options go = gen_default();
    go.max_tokens = 16;
    go.sampling.temperature = 0;
    size_t n = 0;
    pi5_status st = generate(rt, "Once upon a time", &go, out, out_size, &n, NULL);
    if (st != PI5_OK) {
        fprintf(stderr, "generate: %d %s\n", (int)st, last_error(rt));
        return 1;
    }
    return 0;
}

static pi5_runtime *cpu_runtime(void) {
    pi5_runtime_options o = default_options();
    o.backend = PI5_BACKEND_CPU;
    o.n_threads = 1;
    pi5_runtime *rt = NULL;
    if (create_ex(&o, &rt) != PI5_OK) return NULL;
    return rt;
}

static void *worker(void *arg) {
    int *failed = arg;
    pi5_runtime *rt = cpu_runtime();
    char text[4096];
    if (!rt || load(rt, model_path) != PI5_OK || greedy(rt, text, sizeof text) || strcmp(text, expected) != 0) *failed = 1;
    destroy(rt);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: stress LIB.so MODEL.gguf [cycles] [threads]\n");
        return 2;
    }
    model_path = argv[2];
    int cycles = argc > 3 ? atoi(argv[3]) : 1000;
    int n_threads = argc > 4 ? atoi(argv[4]) : 100;
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "dlopen %s: %s\n", argv[1], dlerror());
        return 1;
    }
    default_options = (default_options_fn)dlsym(lib, "pi5_runtime_default_options");
    create_ex = (create_ex_fn)dlsym(lib, "pi5_create_runtime_ex");
    destroy = (destroy_fn)dlsym(lib, "pi5_destroy_runtime");
    load = (load_fn)dlsym(lib, "pi5_load_model");
    unload = (unload_fn)dlsym(lib, "pi5_unload_model");
    gen_default = (gen_default_fn)dlsym(lib, "pi5_generate_default_options");
    generate = (generate_fn)dlsym(lib, "pi5_generate");
    last_error = (last_error_fn)dlsym(lib, "pi5_last_error");
    if (!default_options || !create_ex || !destroy || !load || !unload || !gen_default || !generate || !last_error) {
        fprintf(stderr, "missing symbol\n");
        return 1;
    }

    pi5_runtime *rt = cpu_runtime();
    if (!rt) return 1;
    char text[4096];
    int check = cycles >= 10 ? cycles / 10 : 1;
    for (int i = 0; i < cycles; i++) {
        if (load(rt, model_path) != PI5_OK) {
            fprintf(stderr, "load %d: %s\n", i, last_error(rt));
            return 1;
        }
        if (i % check == 0) {
            if (greedy(rt, i == 0 ? expected : text, sizeof text)) return 1;
            if (i > 0 && strcmp(text, expected) != 0) {
                fprintf(stderr, "cycle %d: '%s' != '%s'\n", i, text, expected);
                return 1;
            }
        }
        if (unload(rt) != PI5_OK) return 1;
    }
    if (unload(rt) != PI5_OK || unload(NULL) != PI5_ERR_INVALID_ARGUMENT) return 1;
    destroy(rt);
    printf("%d load/unload cycles in one runtime: same text every time\n", cycles);

    pthread_t *tids = calloc((size_t)n_threads, sizeof *tids);
    int *failed = calloc((size_t)n_threads, sizeof *failed);
    for (int i = 0; i < n_threads; i++) pthread_create(&tids[i], NULL, worker, &failed[i]);
    int bad = 0;
    for (int i = 0; i < n_threads; i++) {
        pthread_join(tids[i], NULL);
        bad += failed[i];
    }
    free(tids);
    free(failed);
    if (bad) {
        fprintf(stderr, "%d of %d concurrent runtimes failed or differed\n", bad, n_threads);
        return 1;
    }
    printf("%d concurrent runtimes in threads: same text\n", n_threads);

    /* A GPU timeout while loading: an error status, no crash (skipped without Vulkan). */
    pi5_runtime_options o = default_options();
    o.backend = PI5_BACKEND_VULKAN;
    o.timeout_ms = 1;
    pi5_runtime *vrt = NULL;
    if (create_ex(&o, &vrt) == PI5_OK) {
        pi5_status st = load(vrt, model_path);
        if (st != PI5_OK && st != PI5_ERR_TIMEOUT) {
            fprintf(stderr, "load with a 1 ms timeout: %d %s\n", (int)st, last_error(vrt));
            return 1;
        }
        printf("load with a 1 ms GPU timeout: %s\n", st == PI5_OK ? "ok" : "PI5_ERR_TIMEOUT");
        destroy(vrt);
    } else {
        printf("no Vulkan runtime: timeout case skipped\n");
    }
    dlclose(lib);
    return 0;
}
