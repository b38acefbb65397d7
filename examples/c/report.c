/*
 * A host that loads libpi5_llm_rt.so at run time, llama.cpp-program style: dlopen + dlsym,
 * no link-time dependency. Creates a runtime (CPU, or what argv[1] names), prints the report.
 *
 *   cc -I include examples/c/report.c -ldl -o report && ./report [cpu|vulkan|auto] [libpath]
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pi5_llm_rt.h"

#define RESOLVE(lib, name)                                                        \
    name##_fn name = (name##_fn)dlsym(lib, #name);                                \
    if (!name) {                                                                  \
        fprintf(stderr, "report: %s missing from the library: %s\n", #name, dlerror()); \
        return 1;                                                                 \
    }

typedef uint32_t (*pi5_api_version_fn)(void);
typedef const char *(*pi5_version_string_fn)(void);
typedef const char *(*pi5_status_string_fn)(pi5_status);
typedef pi5_runtime_options (*pi5_runtime_default_options_fn)(void);
typedef pi5_status (*pi5_create_runtime_ex_fn)(const pi5_runtime_options *, pi5_runtime **);
typedef void (*pi5_destroy_runtime_fn)(pi5_runtime *);
typedef pi5_backend (*pi5_runtime_backend_fn)(const pi5_runtime *);
typedef pi5_status (*pi5_runtime_report_fn)(pi5_runtime *, char *, size_t, size_t *);

static void on_log(int32_t level, const char *message, void *user_data) {
    (void)user_data;
    fprintf(stderr, "[pi5 %d] %s\n", level, message);
}

int main(int argc, char **argv) {
    const char *backend = argc > 1 ? argv[1] : "cpu";
    const char *path = argc > 2 ? argv[2] : getenv("PI5_LLM_RT_LIB");
    if (!path) path = "libpi5_llm_rt.so";
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "report: cannot load %s: %s\n", path, dlerror());
        return 1;
    }
    RESOLVE(lib, pi5_api_version)
    RESOLVE(lib, pi5_version_string)
    RESOLVE(lib, pi5_status_string)
    RESOLVE(lib, pi5_runtime_default_options)
    RESOLVE(lib, pi5_create_runtime_ex)
    RESOLVE(lib, pi5_destroy_runtime)
    RESOLVE(lib, pi5_runtime_backend)
    RESOLVE(lib, pi5_runtime_report)

    uint32_t v = pi5_api_version();
    if ((v >> 16) != PI5_API_VERSION_MAJOR) {
        fprintf(stderr, "report: library API %u.%u, header %d.%d\n", v >> 16, (v >> 8) & 255, PI5_API_VERSION_MAJOR, PI5_API_VERSION_MINOR);
        return 1;
    }
    printf("library %s (API %u.%u.%u)\n", pi5_version_string(), v >> 16, (v >> 8) & 255, v & 255);

    pi5_runtime_options opts = pi5_runtime_default_options();
    opts.backend = !strcmp(backend, "vulkan") ? PI5_BACKEND_VULKAN : !strcmp(backend, "auto") ? PI5_BACKEND_AUTO : PI5_BACKEND_CPU;
    opts.log_callback = on_log;
    pi5_runtime *rt = NULL;
    pi5_status st = pi5_create_runtime_ex(&opts, &rt);
    if (st != PI5_OK) {
        fprintf(stderr, "report: pi5_create_runtime_ex: %s\n", pi5_status_string(st));
        return 1;
    }
    printf("backend %s\n", pi5_runtime_backend(rt) == PI5_BACKEND_VULKAN ? "vulkan" : "cpu");

    size_t len = 0;
    st = pi5_runtime_report(rt, NULL, 0, &len); /* ask for the size first */
    if (st != PI5_OK && st != PI5_ERR_BUFFER_TOO_SMALL) {
        fprintf(stderr, "report: pi5_runtime_report: %s\n", pi5_status_string(st));
        return 1;
    }
    char *buf = malloc(len + 1);
    st = pi5_runtime_report(rt, buf, len + 1, &len);
    if (st != PI5_OK) {
        fprintf(stderr, "report: pi5_runtime_report: %s\n", pi5_status_string(st));
        return 1;
    }
    printf("%s\n", buf);
    free(buf);
    pi5_destroy_runtime(rt);
    dlclose(lib);
    return 0;
}
