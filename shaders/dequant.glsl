// Block decoders of every weight type, bit-exact with core/quant (llama.cpp's ggml layouts).
// One type per compile, chosen by a define:
//   DQ_F32 DQ_F16 DQ_BF16 DQ_Q4_0 DQ_Q4_1 DQ_Q5_0 DQ_Q5_1 DQ_Q8_0 DQ_Q4_K DQ_Q5_K DQ_Q6_K
// The weights are one storage buffer of uint words at binding DQ_BINDING (default 0): quant blocks
// are 18, 20, 22, 34, 210 ... bytes, not 4-byte aligned, so every byte is reached through words
// with shifts and masks (no 8/16-bit storage or arithmetic needed: runs on V3DV).
//
// Interface (offsets in bytes from the start of the binding):
//   DQ_PLAIN defined for F32/F16/BF16: float dq1(uint elem_byte_off); DQ_ESIZE bytes per element;
//              vec4 dq4p(uint off) = 4 elements from off, a multiple of 4 * DQ_ESIZE (whole words).
//   otherwise: vec4 dq4(uint block_byte_off, uint i) = elements 4i..4i+3 of the block,
//              DQ_QK elements and DQ_BB bytes per block;
//              void dq8(uint block_byte_off, uint g, out vec4 lo, out vec4 hi) = quads DQ8_LO(g)
//              and DQ8_HI(g) (g < DQ_QK / 8) of the block, decoded from shared loads (the two
//              nibbles of one qs word): what the mat-vec streams, half the loads of two dq4.
// Results are `precise` so that no fused multiply-add changes a bit against the CPU decoder.
#ifndef PI5_DEQUANT_GLSL
#define PI5_DEQUANT_GLSL

#ifndef DQ_BINDING
#define DQ_BINDING 0
#endif

layout(std430, binding = DQ_BINDING) readonly buffer DqWeights { uint dqw[]; };

uint dq_u8(uint off) { return (dqw[off >> 2] >> ((off & 3u) << 3)) & 0xFFu; }
// off even
uint dq_u16(uint off) { return (dqw[off >> 2] >> ((off & 2u) << 3)) & 0xFFFFu; }
// off even: 4 bytes that may straddle two words
uint dq_u32_2(uint off) {
    const uint a = off >> 2;
    if ((off & 2u) == 0u) return dqw[a];
    return (dqw[a] >> 16) | (dqw[a + 1u] << 16);
}
float dq_f16(uint off) { return unpackHalf2x16(dq_u16(off)).x; }
vec4 dq_bytes(uint w) { return vec4(float(w & 0xFFu), float((w >> 8) & 0xFFu), float((w >> 16) & 0xFFu), float(w >> 24)); }
vec4 dq_sbytes(uint w) {
    const int s = int(w);
    return vec4(float(bitfieldExtract(s, 0, 8)), float(bitfieldExtract(s, 8, 8)), float(bitfieldExtract(s, 16, 8)), float(bitfieldExtract(s, 24, 8)));
}
// Bits 0..3 of hb to bit 4 of bytes 0..3 (the fifth bit of Q5 quants).
uint dq_spread4(uint hb) { return ((hb & 1u) << 4) | ((hb & 2u) << 11) | ((hb & 4u) << 18) | ((hb & 8u) << 25); }

// get_scale_min_k4 of ggml: 6-bit scale and min number j (0..7) of a Q4_K/Q5_K block whose
// 12 scale bytes start at `s`.
void dq_scale_min_k4(uint s, uint j, out uint sc, out uint m) {
    if (j < 4u) {
        sc = dq_u8(s + j) & 63u;
        m = dq_u8(s + j + 4u) & 63u;
    } else {
        const uint hi = dq_u8(s + j + 4u);
        sc = (hi & 0xFu) | ((dq_u8(s + j - 4u) >> 6) << 4);
        m = (hi >> 4) | ((dq_u8(s + j) >> 6) << 4);
    }
}

#if defined(DQ_F32)
#define DQ_PLAIN
#define DQ_ESIZE 4u
float dq1(uint off) { return uintBitsToFloat(dqw[off >> 2]); }
vec4 dq4p(uint off) {
    const uint a = off >> 2;
    return uintBitsToFloat(uvec4(dqw[a], dqw[a + 1u], dqw[a + 2u], dqw[a + 3u]));
}

#elif defined(DQ_F16)
#define DQ_PLAIN
#define DQ_ESIZE 2u
#if defined(DQ_S16)
// 16-bit storage (the includer enables GL_EXT_shader_16bit_storage): the same binding read as
// f16vec2 words and converted to float; needs StorageBuffer16BitAccess only, no Float16
// arithmetic. Bit-identical to unpackHalf2x16.
layout(std430, binding = DQ_BINDING) readonly buffer DqWeightsH { f16vec2 dqh[]; };
float dq1(uint off) {
    const vec2 v = vec2(dqh[off >> 2]);
    return (off & 2u) != 0u ? v.y : v.x;
}
vec4 dq4p(uint off) {
    const uint a = off >> 2;
    return vec4(vec2(dqh[a]), vec2(dqh[a + 1u]));
}
#else
float dq1(uint off) { return dq_f16(off); }
vec4 dq4p(uint off) {
    const uint a = off >> 2;
    return vec4(unpackHalf2x16(dqw[a]), unpackHalf2x16(dqw[a + 1u]));
}
#endif
#if defined(DQ_H16)
// fp16 arithmetic (the includer enables GL_EXT_shader_explicit_arithmetic_types_float16):
// 4 weights as f16 from whole words (off a multiple of 8).
f16vec4 dq4h(uint off) {
    const uint a = off >> 2;
    return f16vec4(unpackFloat2x16(dqw[a]), unpackFloat2x16(dqw[a + 1u]));
}
#endif

#elif defined(DQ_BF16)
#define DQ_PLAIN
#define DQ_ESIZE 2u
float dq1(uint off) { return uintBitsToFloat(dq_u16(off) << 16); }
vec4 dq4p(uint off) {
    const uint a = off >> 2;
    const uint w0 = dqw[a], w1 = dqw[a + 1u];
    return uintBitsToFloat(uvec4(w0 << 16, w0 & 0xFFFF0000u, w1 << 16, w1 & 0xFFFF0000u));
}

#elif defined(DQ_Q4_0)
// { f16 d; u8 qs[16] }: element j = (qs[j] & 15) - 8, element j+16 = (qs[j] >> 4) - 8; times d.
#define DQ_QK 32u
#define DQ_BB 18u
vec4 dq4(uint b, uint i) {
    const float d = dq_f16(b);
    const uint q = (dq_u32_2(b + 2u + 4u * (i & 3u)) >> ((i >> 2) << 2)) & 0x0F0F0F0Fu;
    precise vec4 r = (dq_bytes(q) - 8.0) * d;
    return r;
}

#define DQ8_LO(g) (g)
#define DQ8_HI(g) ((g) + 4u)
void dq8(uint b, uint g, out vec4 lo, out vec4 hi) {
    const float d = dq_f16(b);
    const uint w = dq_u32_2(b + 2u + 4u * g);
    precise vec4 r0 = (dq_bytes(w & 0x0F0F0F0Fu) - 8.0) * d;
    precise vec4 r1 = (dq_bytes((w >> 4) & 0x0F0F0F0Fu) - 8.0) * d;
    lo = r0;
    hi = r1;
}

#elif defined(DQ_Q4_1)
// { f16 d, m; u8 qs[16] }: nibble * d + m.
#define DQ_QK 32u
#define DQ_BB 20u
vec4 dq4(uint b, uint i) {
    const float d = dq_f16(b);
    const float m = dq_f16(b + 2u);
    const uint q = (dq_u32_2(b + 4u + 4u * (i & 3u)) >> ((i >> 2) << 2)) & 0x0F0F0F0Fu;
    precise vec4 r = dq_bytes(q) * d + m;
    return r;
}

#define DQ8_LO(g) (g)
#define DQ8_HI(g) ((g) + 4u)
void dq8(uint b, uint g, out vec4 lo, out vec4 hi) {
    const float d = dq_f16(b);
    const float m = dq_f16(b + 2u);
    const uint w = dq_u32_2(b + 4u + 4u * g);
    precise vec4 r0 = dq_bytes(w & 0x0F0F0F0Fu) * d + m;
    precise vec4 r1 = dq_bytes((w >> 4) & 0x0F0F0F0Fu) * d + m;
    lo = r0;
    hi = r1;
}

#elif defined(DQ_Q5_0)
// { f16 d; u8 qh[4]; u8 qs[16] }: (nibble | bit e of qh << 4) - 16, times d.
#define DQ_QK 32u
#define DQ_BB 22u
vec4 dq4(uint b, uint i) {
    const float d = dq_f16(b);
    const uint qh = dq_u32_2(b + 2u);
    uint q = (dq_u32_2(b + 6u + 4u * (i & 3u)) >> ((i >> 2) << 2)) & 0x0F0F0F0Fu;
    q |= dq_spread4((qh >> (4u * i)) & 0xFu);
    precise vec4 r = (dq_bytes(q) - 16.0) * d;
    return r;
}

#define DQ8_LO(g) (g)
#define DQ8_HI(g) ((g) + 4u)
void dq8(uint b, uint g, out vec4 lo, out vec4 hi) {
    const float d = dq_f16(b);
    const uint qh = dq_u32_2(b + 2u);
    const uint w = dq_u32_2(b + 6u + 4u * g);
    const uint q0 = (w & 0x0F0F0F0Fu) | dq_spread4((qh >> (4u * g)) & 0xFu);
    const uint q1 = ((w >> 4) & 0x0F0F0F0Fu) | dq_spread4((qh >> (4u * g + 16u)) & 0xFu);
    precise vec4 r0 = (dq_bytes(q0) - 16.0) * d;
    precise vec4 r1 = (dq_bytes(q1) - 16.0) * d;
    lo = r0;
    hi = r1;
}

#elif defined(DQ_Q5_1)
// { f16 d, m; u8 qh[4]; u8 qs[16] }: (nibble | bit e of qh << 4) * d + m.
#define DQ_QK 32u
#define DQ_BB 24u
vec4 dq4(uint b, uint i) {
    const float d = dq_f16(b);
    const float m = dq_f16(b + 2u);
    const uint qh = dq_u32_2(b + 4u);
    uint q = (dq_u32_2(b + 8u + 4u * (i & 3u)) >> ((i >> 2) << 2)) & 0x0F0F0F0Fu;
    q |= dq_spread4((qh >> (4u * i)) & 0xFu);
    precise vec4 r = dq_bytes(q) * d + m;
    return r;
}

#define DQ8_LO(g) (g)
#define DQ8_HI(g) ((g) + 4u)
void dq8(uint b, uint g, out vec4 lo, out vec4 hi) {
    const float d = dq_f16(b);
    const float m = dq_f16(b + 2u);
    const uint qh = dq_u32_2(b + 4u);
    const uint w = dq_u32_2(b + 8u + 4u * g);
    const uint q0 = (w & 0x0F0F0F0Fu) | dq_spread4((qh >> (4u * g)) & 0xFu);
    const uint q1 = ((w >> 4) & 0x0F0F0F0Fu) | dq_spread4((qh >> (4u * g + 16u)) & 0xFu);
    precise vec4 r0 = dq_bytes(q0) * d + m;
    precise vec4 r1 = dq_bytes(q1) * d + m;
    lo = r0;
    hi = r1;
}

#elif defined(DQ_Q8_0)
// { f16 d; i8 qs[32] }: qs * d.
#define DQ_QK 32u
#define DQ_BB 34u
vec4 dq4(uint b, uint i) {
    const float d = dq_f16(b);
    precise vec4 r = dq_sbytes(dq_u32_2(b + 2u + 4u * i)) * d;
    return r;
}

#define DQ8_LO(g) (2u * (g))
#define DQ8_HI(g) (2u * (g) + 1u)
void dq8(uint b, uint g, out vec4 lo, out vec4 hi) {
    const float d = dq_f16(b);
    precise vec4 r0 = dq_sbytes(dq_u32_2(b + 2u + 8u * g)) * d;
    precise vec4 r1 = dq_sbytes(dq_u32_2(b + 6u + 8u * g)) * d;
    lo = r0;
    hi = r1;
}

#elif defined(DQ_Q4_K)
// { f16 d, dmin; u8 scales[12]; u8 qs[128] }: 4 chunks of 64; chunk c: low nibbles of
// qs[32c..32c+32] with scale/min 2c, high nibbles with 2c+1; value d*sc * q - dmin*m.
#define DQ_QK 256u
#define DQ_BB 144u
vec4 dq4(uint b, uint i) {
    const uint c = i >> 4, hi = (i >> 3) & 1u, l0 = (i & 7u) << 2;
    uint sc, mn;
    dq_scale_min_k4(b + 4u, 2u * c + hi, sc, mn);
    const float d1 = dq_f16(b) * float(sc);
    const float m1 = dq_f16(b + 2u) * float(mn);
    const uint q = (dq_u32_2(b + 16u + 32u * c + l0) >> (hi << 2)) & 0x0F0F0F0Fu;
    precise vec4 r = d1 * dq_bytes(q) - m1;
    return r;
}

#define DQ8_LO(g) (((g) >> 3) * 16u + ((g) & 7u))
#define DQ8_HI(g) (((g) >> 3) * 16u + 8u + ((g) & 7u))
void dq8(uint b, uint g, out vec4 lo, out vec4 hi) {
    const uint c = g >> 3, l0 = (g & 7u) << 2;
    uint sc0, mn0, sc1, mn1;
    dq_scale_min_k4(b + 4u, 2u * c, sc0, mn0);
    dq_scale_min_k4(b + 4u, 2u * c + 1u, sc1, mn1);
    const float d = dq_f16(b), dmin = dq_f16(b + 2u);
    const float d0 = d * float(sc0), m0 = dmin * float(mn0);
    const float d1 = d * float(sc1), m1 = dmin * float(mn1);
    const uint w = dq_u32_2(b + 16u + 32u * c + l0);
    precise vec4 r0 = d0 * dq_bytes(w & 0x0F0F0F0Fu) - m0;
    precise vec4 r1 = d1 * dq_bytes((w >> 4) & 0x0F0F0F0Fu) - m1;
    lo = r0;
    hi = r1;
}

#elif defined(DQ_Q5_K)
// { f16 d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128] }: as Q4_K plus a fifth bit: bit
// (2c + hi) of qh[l].
#define DQ_QK 256u
#define DQ_BB 176u
vec4 dq4(uint b, uint i) {
    const uint c = i >> 4, hi = (i >> 3) & 1u, l0 = (i & 7u) << 2;
    uint sc, mn;
    dq_scale_min_k4(b + 4u, 2u * c + hi, sc, mn);
    const float d1 = dq_f16(b) * float(sc);
    const float m1 = dq_f16(b + 2u) * float(mn);
    uint q = (dq_u32_2(b + 48u + 32u * c + l0) >> (hi << 2)) & 0x0F0F0F0Fu;
    q |= ((dq_u32_2(b + 16u + l0) >> (2u * c + hi)) & 0x01010101u) << 4;
    precise vec4 r = d1 * dq_bytes(q) - m1;
    return r;
}

#define DQ8_LO(g) (((g) >> 3) * 16u + ((g) & 7u))
#define DQ8_HI(g) (((g) >> 3) * 16u + 8u + ((g) & 7u))
void dq8(uint b, uint g, out vec4 lo, out vec4 hi) {
    const uint c = g >> 3, l0 = (g & 7u) << 2;
    uint sc0, mn0, sc1, mn1;
    dq_scale_min_k4(b + 4u, 2u * c, sc0, mn0);
    dq_scale_min_k4(b + 4u, 2u * c + 1u, sc1, mn1);
    const float d = dq_f16(b), dmin = dq_f16(b + 2u);
    const float d0 = d * float(sc0), m0 = dmin * float(mn0);
    const float d1 = d * float(sc1), m1 = dmin * float(mn1);
    const uint w = dq_u32_2(b + 48u + 32u * c + l0);
    const uint qh = dq_u32_2(b + 16u + l0) >> (2u * c);
    const uint q0 = (w & 0x0F0F0F0Fu) | ((qh & 0x01010101u) << 4);
    const uint q1 = ((w >> 4) & 0x0F0F0F0Fu) | (((qh >> 1) & 0x01010101u) << 4);
    precise vec4 r0 = d0 * dq_bytes(q0) - m0;
    precise vec4 r1 = d1 * dq_bytes(q1) - m1;
    lo = r0;
    hi = r1;
}

#elif defined(DQ_Q6_K)
// { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d }: two halves of 128; in half h, quarter k
// (0..3) element l (0..31): ql[64h + l + 32(k&1)] nibble k>>1, qh[32h + l] bits 2k..2k+1,
// scale scales[8h + l/16 + 2k]; value d*sc * (q - 32).
#define DQ_QK 256u
#define DQ_BB 210u
vec4 dq4(uint b, uint i) {
    const uint h = i >> 5, k = (i >> 3) & 3u, l0 = (i & 7u) << 2;
    uint q = (dq_u32_2(b + 64u * h + l0 + 32u * (k & 1u)) >> ((k >> 1) << 2)) & 0x0F0F0F0Fu;
    q |= ((dq_u32_2(b + 128u + 32u * h + l0) >> (2u * k)) & 0x03030303u) << 4;
    const int sc = bitfieldExtract(int(dq_u8(b + 192u + 8u * h + (l0 >> 4) + 2u * k)), 0, 8);
    const float ds = dq_f16(b + 208u) * float(sc);
    precise vec4 r = ds * (dq_bytes(q) - 32.0);
    return r;
}

#define DQ8_LO(g) (((g) >> 4) * 32u + (((g) >> 3) & 1u) * 8u + ((g) & 7u))
#define DQ8_HI(g) (((g) >> 4) * 32u + ((((g) >> 3) & 1u) + 2u) * 8u + ((g) & 7u))
void dq8(uint b, uint g, out vec4 lo, out vec4 hi) {
    const uint h = g >> 4, k = (g >> 3) & 1u, l0 = (g & 7u) << 2;
    const uint w = dq_u32_2(b + 64u * h + l0 + 32u * k);
    const uint qh = dq_u32_2(b + 128u + 32u * h + l0) >> (2u * k);
    const uint q0 = (w & 0x0F0F0F0Fu) | ((qh & 0x03030303u) << 4);
    const uint q1 = ((w >> 4) & 0x0F0F0F0Fu) | (((qh >> 4) & 0x03030303u) << 4);
    const uint sb = b + 192u + 8u * h + (l0 >> 4) + 2u * k;
    const float d = dq_f16(b + 208u);
    const float ds0 = d * float(bitfieldExtract(int(dq_u8(sb)), 0, 8));
    const float ds1 = d * float(bitfieldExtract(int(dq_u8(sb + 4u)), 0, 8));
    precise vec4 r0 = ds0 * (dq_bytes(q0) - 32.0);
    precise vec4 r1 = ds1 * (dq_bytes(q1) - 32.0);
    lo = r0;
    hi = r1;
}

#else
#error "dequant.glsl: define one of DQ_F32 DQ_F16 DQ_BF16 DQ_Q4_0 DQ_Q4_1 DQ_Q5_0 DQ_Q5_1 DQ_Q8_0 DQ_Q4_K DQ_Q5_K DQ_Q6_K"
#endif

#endif
