// Per-step values of a replayed sequence (core/kernels/kernels.zig StepParams). Bind as a
// readonly storage buffer: PI5_PARAMS_BINDING(n) declares it at binding n.
#ifndef PI5_PARAMS_GLSL
#define PI5_PARAMS_GLSL
#define PI5_PARAMS_BINDING(n) \
    layout(std430, binding = n) readonly buffer StepParamsBuf { uint step_pos; uint step_n_tokens; uint step_n_kv; uint step_pad; };
#endif
