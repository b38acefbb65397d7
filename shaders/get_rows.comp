#version 450
// out[i][:] = dequant(W[ids[i]][:]): embedding lookup for every weight type (also the GPU side
// of the decoder test). One invocation per output element (plain types) or per 4 elements
// (quantized types). W may be one chunk of a split tensor holding rows row0..row0+n_rows-1:
// invocations whose id lies elsewhere leave their output to the dispatch of that chunk.
#include "common.glsl"
#define DQ_BINDING 0
#include "dequant.glsl"

layout(std430, binding = 1) readonly buffer Ids { uint ids[]; };
layout(std430, binding = 2) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Params {
    uint n_cols;      // elements per row
    uint row_bytes;   // bytes per row of W
    uint n_ids;       // rows to gather
    uint row0;        // first row of W held by this binding
    uint n_rows;      // rows of W in this binding
    uint n_rows_total;// rows of the whole tensor (ids past it read as zeros)
    uint grid_x;      // invocations per grid row (2-D grid past maxComputeWorkGroupCount)
    uint out_stride;  // floats between output rows
} p;

void main() {
#ifdef DQ_PLAIN
    const uint units = p.n_cols;
#else
    const uint units = p.n_cols / 4u;
#endif
    const uint g = gl_GlobalInvocationID.y * p.grid_x + gl_GlobalInvocationID.x;
    const uint r = g / units;
    if (r >= p.n_ids) return;
    const uint u = g - r * units;
    const uint id = ids[r];
#ifdef DQ_PLAIN
    const uint dst = r * p.out_stride + u;
    if (id >= p.n_rows_total) {
        if (p.row0 == 0u) o[dst] = 0.0;
        return;
    }
    if (id < p.row0 || id - p.row0 >= p.n_rows) return;
    o[dst] = dq1((id - p.row0) * p.row_bytes + u * DQ_ESIZE);
#else
    const uint dst = r * p.out_stride + 4u * u;
    vec4 v = vec4(0.0);
    if (id >= p.n_rows_total) {
        if (p.row0 != 0u) return;
    } else {
        if (id < p.row0 || id - p.row0 >= p.n_rows) return;
        const uint qpb = DQ_QK / 4u;
        const uint blk = u / qpb;
        v = dq4((id - p.row0) * p.row_bytes + blk * DQ_BB, u - blk * qpb);
    }
    o[dst] = v.x;
    o[dst + 1u] = v.y;
    o[dst + 2u] = v.z;
    o[dst + 3u] = v.w;
#endif
}
