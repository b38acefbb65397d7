// Workgroup-wide reductions for 1-D kernels: wg_sum / wg_max return the value over every
// invocation of the workgroup to all of them. Call from uniform control flow only.
// Default: a shared-memory tree (needs a power-of-two workgroup size ≤ WG_MAX; the host picks
// one). With USE_SUBGROUP: subgroupAdd/subgroupMax, then one shared slot per subgroup (any
// subgroup size). Each call ends with a barrier, so shared memory may be reused right after.
#ifndef PI5_REDUCE_GLSL
#define PI5_REDUCE_GLSL
#ifndef WG_MAX
#define WG_MAX 256
#endif

#ifdef USE_SUBGROUP
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
shared float red_sh[WG_MAX];
float wg_sum(float v) {
    v = subgroupAdd(v);
    if (subgroupElect()) red_sh[gl_SubgroupID] = v;
    barrier();
    float r = 0.0;
    for (uint i = 0; i < gl_NumSubgroups; ++i) r += red_sh[i];
    barrier();
    return r;
}
float wg_max(float v) {
    v = subgroupMax(v);
    if (subgroupElect()) red_sh[gl_SubgroupID] = v;
    barrier();
    float r = red_sh[0];
    for (uint i = 1; i < gl_NumSubgroups; ++i) r = max(r, red_sh[i]);
    barrier();
    return r;
}
#else
shared float red_sh[WG_MAX];
float wg_sum(float v) {
    const uint tid = gl_LocalInvocationID.x;
    red_sh[tid] = v;
    barrier();
    for (uint s = gl_WorkGroupSize.x / 2; s > 0; s >>= 1) {
        if (tid < s) red_sh[tid] += red_sh[tid + s];
        barrier();
    }
    const float r = red_sh[0];
    barrier();
    return r;
}
float wg_max(float v) {
    const uint tid = gl_LocalInvocationID.x;
    red_sh[tid] = v;
    barrier();
    for (uint s = gl_WorkGroupSize.x / 2; s > 0; s >>= 1) {
        if (tid < s) red_sh[tid] = max(red_sh[tid], red_sh[tid + s]);
        barrier();
    }
    const float r = red_sh[0];
    barrier();
    return r;
}
#endif

// Row index of a one-workgroup-per-row kernel whose grid may be folded into y (vk.grid1D).
uint wg_row() {
    return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
}
#endif
