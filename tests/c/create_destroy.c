/* Loads libpi5_llm_rt.so with dlopen as a llama.cpp-style host would, resolves the entry points
 * with dlsym, and creates and destroys a runtime N times (default 1000). Run under valgrind in
 * the test suite: no definite leaks allowed. Usage: create_destroy [path/to/libpi5_llm_rt.so] [N] */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pi5_llm_rt.h"

typedef pi5_runtime_options (*default_options_fn)(void);
typedef pi5_status (*create_ex_fn)(const pi5_runtime_options *, pi5_runtime **);
typedef void (*destroy_fn)(pi5_runtime *);
typedef pi5_status (*report_fn)(pi5_runtime *, char *, size_t, size_t *);
typedef uint32_t (*version_fn)(void);

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "libpi5_llm_rt.so";
    int n = argc > 2 ? atoi(argv[2]) : 1000;
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        return 1;
    }
    default_options_fn default_options = (default_options_fn)dlsym(lib, "pi5_runtime_default_options");
    create_ex_fn create_ex = (create_ex_fn)dlsym(lib, "pi5_create_runtime_ex");
    destroy_fn destroy = (destroy_fn)dlsym(lib, "pi5_destroy_runtime");
    report_fn report = (report_fn)dlsym(lib, "pi5_runtime_report");
    version_fn version = (version_fn)dlsym(lib, "pi5_api_version");
    if (!default_options || !create_ex || !destroy || !report || !version) {
        fprintf(stderr, "missing symbol\n");
        return 1;
    }
    if (version() != PI5_API_VERSION) {
        fprintf(stderr, "API version mismatch: header %x, library %x\n", PI5_API_VERSION, version());
        return 1;
    }
    pi5_runtime_options opts = default_options();
    for (int i = 0; i < n; i++) {
        pi5_runtime *rt = NULL;
        pi5_status st = create_ex(&opts, &rt);
        if (st != PI5_OK || !rt) {
            fprintf(stderr, "create %d failed: %d\n", i, (int)st);
            return 1;
        }
        if (i == 0) {
            size_t need = 0;
            report(rt, NULL, 0, &need);
            char *buf = malloc(need + 1);
            if (report(rt, buf, need + 1, &need) != PI5_OK) return 1;
            printf("%s\n", buf);
            free(buf);
        }
        destroy(rt);
    }
    destroy(NULL);
    printf("created and destroyed %d runtimes\n", n);
    dlclose(lib);
    return 0;
}
