//! Compute graphs: the builder. A Graph is a DAG of tensors; every non-leaf tensor is the result
//! of one op over earlier tensors (handles are indices, so the build order is a topological
//! order). Hosts (the model code, the C ABI) build a graph once for a maximum token count, then
//! plan and run it every step through core/graph/exec.zig.
//!
//! Shapes follow ggml: ne[0] is the row length (contiguous), unused dims are 1. Activations are
//! f32; weights keep their GGUF type; token ids are i32; persistent state (KV caches) is f32 or
//! f16.
//!
//! Per-step dynamics: a graph is built for `max_tokens`. A tensor that depends on the step's
//! tokens has a *token dim* (`Tensor.tok`) whose size is max_tokens at build time and n_tokens
//! when a step runs; the token dim is always the outermost used dim, so the first n_tokens
//! slices are a contiguous prefix. Everything else is static. The step's `pos` (first position)
//! feeds rope, causal softmax, kv_store, attention and `positions()`.
//!
//! Every builder function validates its operands and returns error.BadShape (or
//! error.InvalidArgument for a bad handle or parameter) instead of panicking.
//!
//! Example (one llama block, abbreviated):
//!   var g = try Graph.init(alloc, .{ .max_tokens = 32 });
//!   const ids = try g.inputTokens("ids");
//!   const emb = try g.weight(t.name, t.type, t.ne, t.data); // borrows GGUF data
//!   var x = try g.getRows(emb, ids);             // [n_embd, T]
//!   g.setLayer(0);
//!   const h = try g.mul(try g.rmsNorm(x, 1e-5), attn_norm_w);
//!   var q = try g.reshape(try g.mulMat(wq, h), .{ head_dim, n_head, g.max_tokens, 1 });
//!   q = try g.rope(q, .{ .n_rot = head_dim, .mode = .normal });
//!   ... const kc = try g.state("k0", .f16, .{ head_dim, n_head_kv, n_ctx, 1 });
//!   const kc1 = try g.kvStore(kc, k);            // the cache after this step's rows
//!   const a = try g.attention(q, kc1, vc1, .{ .n_head_kv = n_head_kv });
//!   ...
//!   g.setLayer(null);
//!   try g.markOutput(try g.mulMat(output_w, try g.lastRow(x)));
const std = @import("std");
const types = @import("../gguf/types.zig");
pub const GgmlType = types.GgmlType;

pub const Error = error{ BadShape, InvalidArgument, OutOfMemory };

/// A tensor handle: index into Graph.tensors. Handles of one graph are only valid for it.
pub const Id = u32;

pub const Kind = enum {
    /// Set by the host before each step (token ids, embeddings, masks ...).
    input,
    /// Constant data, given at build time (borrowed or copied), uploaded once at plan time.
    weight,
    /// Persistent: survives steps and is never reused by the allocator (KV caches). Zeroed at plan.
    state,
    /// Computed by an op.
    intermediate,
};

pub const op_table = @import("op.zig");
const params = @import("../params.zig");
pub const Op = op_table.Op;
pub const Params = op_table.Params;
pub const SoftmaxParams = op_table.SoftmaxParams;
pub const RopeMode = params.RopeMode;
pub const RopeParams = params.Rope;
/// n_head_kv and scale; n_head and head_dim come from q's shape (left 0).
pub const AttentionParams = params.Attention;

pub const Tensor = struct {
    kind: Kind,
    type: GgmlType,
    ne: [4]u64,
    /// Index of the token dim (size max_tokens at build, n_tokens per step), or null when static.
    tok: ?u2 = null,
    op: Op = .none,
    src: [3]?Id = .{ null, null, null },
    params: Params = .none,
    /// Layer index the model set when the node was created (placement by n_gpu_layers).
    layer: ?u32 = null,
    /// Weight data (borrowed, or owned when `owned`), or null.
    data: ?[]const u8 = null,
    owned: bool = false,
    output: bool = false,
    /// Name for profiles and the C ABI (owned by the graph); may be empty.
    name: []const u8 = "",

    pub fn nElements(t: Tensor) u64 {
        return t.ne[0] * t.ne[1] * t.ne[2] * t.ne[3];
    }
    pub fn nRows(t: Tensor) u64 {
        return t.ne[1] * t.ne[2] * t.ne[3];
    }
    /// Bytes at the graph's max_tokens (whole blocks for quantized types).
    pub fn nBytes(t: Tensor) u64 {
        return (t.type.rowBytes(t.ne[0]) orelse 0) * t.nRows();
    }
    /// Elements per token slice (the whole tensor when static).
    pub fn perToken(t: Tensor) u64 {
        const d = t.tok orelse return t.nElements();
        var n: u64 = 1;
        for (0..d) |i| n *= t.ne[i];
        return n;
    }
    /// Elements in a step of `n_tokens`.
    pub fn stepElements(t: Tensor, n_tokens: u64) u64 {
        return if (t.tok != null) t.perToken() * n_tokens else t.nElements();
    }
    /// Rows (of ne[0]) in a step of `n_tokens`.
    pub fn stepRows(t: Tensor, n_tokens: u64) u64 {
        return t.stepElements(n_tokens) / t.ne[0];
    }
};

pub const Options = struct {
    /// Largest n_tokens of a step (the prompt batch); 1 for a decode-only graph.
    max_tokens: u32 = 1,
};

pub const Graph = struct {
    alloc: std.mem.Allocator,
    max_tokens: u32,
    tensors: std.ArrayListUnmanaged(Tensor) = .{},
    /// Layer stamped on nodes created from now on (setLayer).
    cur_layer: ?u32 = null,
    /// The built-in positions tensor, created on first use.
    pos_id: ?Id = null,

    pub fn init(alloc: std.mem.Allocator, opts: Options) Error!Graph {
        if (opts.max_tokens == 0) return error.InvalidArgument;
        return .{ .alloc = alloc, .max_tokens = opts.max_tokens };
    }

    pub fn deinit(g: *Graph) void {
        for (g.tensors.items) |t| {
            if (t.owned) if (t.data) |d| g.alloc.free(d);
            if (t.name.len > 0) g.alloc.free(t.name);
        }
        g.tensors.deinit(g.alloc);
        g.* = undefined;
    }

    /// Nodes created after this call carry `layer` (null: not part of a layer, e.g. the head).
    pub fn setLayer(g: *Graph, layer: ?u32) void {
        g.cur_layer = layer;
    }

    pub fn get(g: *const Graph, id: Id) *const Tensor {
        return &g.tensors.items[id];
    }

    pub fn len(g: *const Graph) usize {
        return g.tensors.items.len;
    }

    fn check(g: *const Graph, id: Id) Error!*const Tensor {
        if (id >= g.tensors.items.len) return error.InvalidArgument;
        return &g.tensors.items[id];
    }

    fn push(g: *Graph, t: Tensor, name: []const u8) Error!Id {
        if (g.tensors.items.len >= std.math.maxInt(Id)) return error.OutOfMemory;
        for (t.ne) |n| if (n == 0) return error.BadShape;
        var tt = t;
        tt.layer = g.cur_layer;
        tt.name = if (name.len > 0) try g.alloc.dupe(u8, name) else "";
        errdefer if (tt.name.len > 0) g.alloc.free(tt.name);
        try g.tensors.append(g.alloc, tt);
        return @intCast(g.tensors.items.len - 1);
    }

    // ---- leaves ----

    /// A per-token input: [row_len, max_tokens] of f32 (embeddings) or i32 (row_len 1: token ids).
    pub fn input(g: *Graph, name: []const u8, ty: GgmlType, row_len: u64) Error!Id {
        if (ty != .f32 and ty != .i32) return error.InvalidArgument;
        return g.push(.{ .kind = .input, .type = ty, .ne = .{ row_len, g.max_tokens, 1, 1 }, .tok = 1 }, name);
    }

    /// Token ids: an i32 input [1, max_tokens].
    pub fn inputTokens(g: *Graph, name: []const u8) Error!Id {
        return g.input(name, .i32, 1);
    }

    /// A weight of any GGUF type. `data` (rowBytes(ne[0]) * rows bytes) is borrowed: it must
    /// outlive the graph's plans (an mmapped GGUF does); null = set later with setWeightData.
    pub fn weight(g: *Graph, name: []const u8, ty: GgmlType, ne: [4]u64, data: ?[]const u8) Error!Id {
        const rb = ty.rowBytes(ne[0]) orelse return error.BadShape;
        const id = try g.push(.{ .kind = .weight, .type = ty, .ne = ne }, name);
        if (data) |d| {
            if (d.len != rb * ne[1] * ne[2] * ne[3]) {
                g.popLast();
                return error.BadShape;
            }
            g.tensors.items[id].data = d;
        }
        return id;
    }

    /// Sets a weight's data: borrowed (must outlive plans) or copied into the graph.
    pub fn setWeightData(g: *Graph, id: Id, data: []const u8, mode: enum { borrow, copy }) Error!void {
        const t = try g.check(id);
        if (t.kind != .weight) return error.InvalidArgument;
        if (data.len != t.nBytes()) return error.BadShape;
        const d = if (mode == .copy) try g.alloc.dupe(u8, data) else data;
        const tp = &g.tensors.items[id];
        if (tp.owned) if (tp.data) |old| g.alloc.free(old);
        tp.data = d;
        tp.owned = mode == .copy;
    }

    /// Persistent state (a KV cache [head_dim, n_head_kv, n_ctx]), f32 or f16, zeroed at plan.
    pub fn state(g: *Graph, name: []const u8, ty: GgmlType, ne: [4]u64) Error!Id {
        if (ty != .f32 and ty != .f16) return error.InvalidArgument;
        return g.push(.{ .kind = .state, .type = ty, .ne = ne }, name);
    }

    /// Marks a tensor as an output: kept alive to the end of the step and readable after it.
    pub fn markOutput(g: *Graph, id: Id) Error!void {
        _ = try g.check(id);
        g.tensors.items[id].output = true;
    }

    fn popLast(g: *Graph) void {
        const t = g.tensors.pop();
        if (t.name.len > 0) g.alloc.free(t.name);
    }

    fn act(g: *const Graph, id: Id) Error!*const Tensor {
        const t = try g.check(id);
        if (t.type != .f32) return error.BadShape;
        return t;
    }

    /// What an op's node is: element type, shape and token dim.
    const Shape = struct { type: GgmlType = .f32, ne: [4]u64, tok: ?u2 };

    /// Adds a compute node: the op table's arity and parameter kind, then the op's shape rule.
    /// Every builder function below ends here.
    pub fn node(g: *Graph, op: Op, src: [3]?Id, p: Params) Error!Id {
        const row = op_table.info(op);
        if (row.class != .compute or std.meta.activeTag(p) != row.params) return error.InvalidArgument;
        for (src, 0..) |s, i| {
            if (s) |id| {
                if (i >= @as(usize, row.n_src) + row.n_opt) return error.InvalidArgument;
                _ = try g.check(id);
            } else if (i < row.n_src) return error.InvalidArgument;
        }
        const sh = try g.shape(op, src, p);
        if (op == .positions) {
            if (g.pos_id) |id| return id;
            const saved = g.cur_layer;
            g.cur_layer = null;
            defer g.cur_layer = saved;
            g.pos_id = try g.push(.{ .kind = .intermediate, .type = sh.type, .ne = sh.ne, .tok = sh.tok, .op = op }, "positions");
            return g.pos_id.?;
        }
        return g.push(.{ .kind = .intermediate, .type = sh.type, .ne = sh.ne, .tok = sh.tok, .op = op, .src = src, .params = p }, "");
    }

    /// The shape rule of every op (operands already checked to exist, arity to fit the table).
    fn shape(g: *const Graph, op: Op, src: [3]?Id, p: Params) Error!Shape {
        switch (op) {
            .none, .view => return error.InvalidArgument,
            .get_rows => {
                // Rows `ids` of `w` ([n_embd, n_rows], any type), dequantized: [n_embd, ids...].
                const tw = g.get(src[0].?);
                const ti = g.get(src[1].?);
                if (ti.type != .i32 or ti.ne[0] != 1 or tw.ne[2] != 1 or tw.ne[3] != 1) return error.BadShape;
                if (tw.type.traits() == null) return error.BadShape;
                return .{ .ne = .{ tw.ne[0], ti.ne[1], ti.ne[2], ti.ne[3] }, .tok = ti.tok };
            },
            .mul_mat => {
                const tw = g.get(src[0].?);
                const tx = try g.act(src[1].?);
                if (tw.ne[0] != tx.ne[0] or tw.ne[2] != 1 or tw.ne[3] != 1) return error.BadShape;
                if (tw.type.rowBytes(tw.ne[0]) == null) return error.BadShape;
                return .{ .ne = .{ tw.ne[1], tx.ne[1], tx.ne[2], tx.ne[3] }, .tok = tx.tok };
            },
            .rms_norm, .layer_norm => {
                const tx = try g.act(src[0].?);
                if (!(p.eps >= 0)) return error.InvalidArgument;
                for (src[1..]) |o| if (o) |id| {
                    const t = g.get(id);
                    if (t.type != .f32 or t.nElements() != tx.ne[0]) return error.BadShape;
                };
                return .{ .ne = tx.ne, .tok = tx.tok };
            },
            .add, .mul => {
                const ta = try g.act(src[0].?);
                const tb = try g.act(src[1].?);
                // b: same shape as a, or rows of ne0 that repeat over a (a bias or norm weight).
                if (tb.ne[0] != ta.ne[0]) return error.BadShape;
                if (tb.tok != null) {
                    if (ta.tok == null or tb.perToken() != ta.perToken()) return error.BadShape;
                } else if (tb.nElements() != ta.nElements() and (ta.perToken() % tb.nElements() != 0 or ta.tok == null and tb.nElements() != ta.ne[0])) {
                    return error.BadShape;
                }
                return .{ .ne = ta.ne, .tok = ta.tok };
            },
            .scale, .silu, .gelu => {
                const tx = try g.act(src[0].?);
                return .{ .ne = tx.ne, .tok = tx.tok };
            },
            .swiglu => {
                const tg = try g.act(src[0].?);
                const tu = try g.act(src[1].?);
                if (!std.mem.eql(u64, &tg.ne, &tu.ne) or tg.tok != tu.tok) return error.BadShape;
                return .{ .ne = tg.ne, .tok = tg.tok };
            },
            .softmax => {
                const tx = try g.act(src[0].?);
                if (p.softmax.causal and tx.tok == null) return error.BadShape;
                return .{ .ne = tx.ne, .tok = tx.tok };
            },
            .rope => {
                const tx = try g.act(src[0].?);
                const r = p.rope;
                if (tx.tok == null or tx.tok.? != 2 or tx.ne[3] != 1) return error.BadShape;
                if (r.n_rot == 0 or r.n_rot % 2 != 0 or r.n_rot > tx.ne[0] or r.n_rot > params.max_head_dim) return error.InvalidArgument;
                if (!(r.freq_base > 0)) return error.InvalidArgument;
                return .{ .ne = tx.ne, .tok = tx.tok };
            },
            .kv_store => {
                const tc = g.get(src[0].?);
                const ts = try g.act(src[1].?);
                if (tc.kind != .state) return error.InvalidArgument;
                if (ts.tok == null or ts.perToken() != tc.ne[0] * tc.ne[1] or tc.ne[3] != 1) return error.BadShape;
                if (tc.ne[2] < g.max_tokens) return error.BadShape;
                return .{ .type = tc.type, .ne = tc.ne, .tok = null };
            },
            .attention => {
                const tq = try g.act(src[0].?);
                const a = p.attention;
                if (tq.tok == null or tq.tok.? != 2) return error.BadShape;
                const tk = g.get(src[1].?);
                const tv = g.get(src[2].?);
                for ([_]*const Tensor{ tk, tv }) |t| {
                    if (t.type != .f32 and t.type != .f16) return error.BadShape;
                    if (t.kind != .state and t.op != .kv_store) return error.InvalidArgument;
                    if (t.ne[0] != tq.ne[0] or t.ne[1] != a.n_head_kv or t.ne[3] != 1) return error.BadShape;
                }
                if (tk.ne[2] != tv.ne[2]) return error.BadShape;
                if (a.n_head_kv == 0 or tq.ne[1] % a.n_head_kv != 0 or tq.ne[0] > params.max_head_dim) return error.BadShape;
                if (a.n_head != tq.ne[1] or a.head_dim != tq.ne[0]) return error.BadShape;
                return .{ .ne = tq.ne, .tok = tq.tok };
            },
            .cpy => {
                const tx = g.get(src[0].?);
                const ty = p.cast;
                if ((tx.type != .f32 and tx.type != .f16) or (ty != .f32 and ty != .f16)) return error.BadShape;
                return .{ .type = ty, .ne = tx.ne, .tok = tx.tok };
            },
            .last_row => {
                const tx = try g.act(src[0].?);
                if (tx.tok == null or tx.tok.? != 1) return error.BadShape;
                return .{ .ne = .{ tx.ne[0], 1, 1, 1 }, .tok = null };
            },
            .positions => return .{ .type = .i32, .ne = .{ 1, g.max_tokens, 1, 1 }, .tok = 1 },
        }
    }

    // ---- ops (shape rules in `shape`) ----

    /// Rows `ids` of `w` ([n_embd, n_rows], any type), dequantized: [n_embd, ids...].
    /// ids: i32 of any shape (row ids of [1, T] -> [n_embd, T]).
    pub fn getRows(g: *Graph, w: Id, ids: Id) Error!Id {
        return g.node(.get_rows, .{ w, ids, null }, .none);
    }

    /// out = x · wᵀ: w = [n_in, n_out] (any type, as GGUF stores weights), x = [n_in, rows...]
    /// -> [n_out, rows...].
    pub fn mulMat(g: *Graph, w: Id, x: Id) Error!Id {
        return g.node(.mul_mat, .{ w, x, null }, .none);
    }

    /// Per row: x / sqrt(mean(x²) + eps). Multiply by the norm weight with mul().
    pub fn rmsNorm(g: *Graph, x: Id, eps: f32) Error!Id {
        return g.node(.rms_norm, .{ x, null, null }, .{ .eps = eps });
    }

    /// Per row: (x - mean) / sqrt(var + eps) [* weight + bias]; weight and bias: f32 [ne0] or null.
    pub fn layerNorm(g: *Graph, x: Id, weight_: ?Id, bias: ?Id, eps: f32) Error!Id {
        return g.node(.layer_norm, .{ x, weight_, bias }, .{ .eps = eps });
    }

    /// a + b; b has a's shape or is a row [ne0] (or whole per-token block) broadcast over a.
    pub fn add(g: *Graph, a: Id, b: Id) Error!Id {
        return g.node(.add, .{ a, b, null }, .none);
    }

    /// a * b element-wise, broadcasting b as add() does (norm weights).
    pub fn mul(g: *Graph, a: Id, b: Id) Error!Id {
        return g.node(.mul, .{ a, b, null }, .none);
    }

    pub fn scale(g: *Graph, x: Id, s: f32) Error!Id {
        return g.node(.scale, .{ x, null, null }, .{ .scale = s });
    }

    pub fn silu(g: *Graph, x: Id) Error!Id {
        return g.node(.silu, .{ x, null, null }, .none);
    }

    /// GELU, tanh approximation (as ggml).
    pub fn gelu(g: *Graph, x: Id) Error!Id {
        return g.node(.gelu, .{ x, null, null }, .none);
    }

    /// silu(gate) * up, same shapes.
    pub fn swiglu(g: *Graph, gate: Id, up: Id) Error!Id {
        return g.node(.swiglu, .{ gate, up, null }, .none);
    }

    /// Per row of ne0: softmax(x * scale), optionally causal (see SoftmaxParams).
    pub fn softmax(g: *Graph, x: Id, p: SoftmaxParams) Error!Id {
        return g.node(.softmax, .{ x, null, null }, .{ .softmax = p });
    }

    /// Rotary embedding of x = [head_dim, n_head, T] at positions pos .. pos+n_tokens-1.
    pub fn rope(g: *Graph, x: Id, p: RopeParams) Error!Id {
        return g.node(.rope, .{ x, null, null }, .{ .rope = p });
    }

    /// Writes this step's rows of `src` ([kv_dim, T] or [head_dim, n_head_kv, T], f32) into the
    /// persistent `cache` ([head_dim, n_head_kv, n_ctx], f32 or f16) at rows pos .. pos+n_tokens-1,
    /// converting to the cache type. Returns the cache after the write (pass it to attention so
    /// that the read is ordered after the store).
    pub fn kvStore(g: *Graph, cache: Id, src: Id) Error!Id {
        return g.node(.kv_store, .{ cache, src, null }, .none);
    }

    /// Causal attention of q = [head_dim, n_head, T] over caches [head_dim, n_head_kv, n_ctx]
    /// (state tensors or kvStore results), keys 0 .. pos+t for query t -> [head_dim, n_head, T].
    /// p.n_head and p.head_dim: 0 = from q's shape.
    pub fn attention(g: *Graph, q: Id, k_cache: Id, v_cache: Id, p: AttentionParams) Error!Id {
        const tq = try g.act(q);
        var full = p;
        if (full.n_head == 0) full.n_head = std.math.cast(u32, tq.ne[1]) orelse return error.BadShape;
        if (full.head_dim == 0) full.head_dim = std.math.cast(u32, tq.ne[0]) orelse return error.BadShape;
        full.scale = full.scaleOrDefault();
        return g.node(.attention, .{ q, k_cache, v_cache }, .{ .attention = full });
    }

    /// A copy of x (f32) as `ty` (f32 or f16), same shape.
    pub fn cpy(g: *Graph, x: Id, ty: GgmlType) Error!Id {
        return g.node(.cpy, .{ x, null, null }, .{ .cast = ty });
    }

    /// The same data seen with shape `ne` (free). For a token tensor the per-token element count
    /// must match and the token dim must stay outermost (e.g. [n_embd, T] -> [head_dim, n_head, T]).
    pub fn reshape(g: *Graph, x: Id, ne: [4]u64) Error!Id {
        const tx = try g.check(x);
        var prod: u64 = 1;
        for (ne) |n| {
            if (n == 0) return error.BadShape;
            prod *= n;
        }
        if (prod != tx.nElements()) return error.BadShape;
        var tok: ?u2 = null;
        if (tx.tok != null) {
            const per = tx.perToken();
            var acc: u64 = 1;
            var d: usize = 0;
            while (d < 4) : (d += 1) {
                if (acc == per and ne[d] == g.max_tokens) break;
                acc *= ne[d];
            }
            if (d == 4) return error.BadShape;
            for (d + 1..4) |i| if (ne[i] != 1) return error.BadShape;
            tok = @intCast(d);
        }
        return g.push(.{ .kind = tx.kind, .type = tx.type, .ne = ne, .tok = tok, .op = .view, .src = .{ x, null, null }, .params = .{ .view = 0 }, .data = null }, "");
    }

    /// A contiguous slice of a static tensor (a weight, bias or state): `ne` elements starting at
    /// element `offset` (free). Splits fused weights, e.g. rows [n, 2n) of a QKV matrix:
    /// slice(w_qkv, .{n_embd, n, 1, 1}, n_embd * n). Quantized: whole rows only.
    pub fn slice(g: *Graph, x: Id, ne: [4]u64, offset: u64) Error!Id {
        const tx = try g.check(x);
        if (tx.tok != null) return error.BadShape;
        var prod: u64 = 1;
        for (ne) |n| {
            if (n == 0) return error.BadShape;
            prod *= n;
        }
        if (offset + prod > tx.nElements()) return error.BadShape;
        const tr = tx.type.traits() orelse return error.BadShape;
        if (offset % tr.block_elems != 0 or ne[0] % tr.block_elems != 0) return error.BadShape;
        if (tx.type.isQuantized() and (ne[0] != tx.ne[0] or offset % tx.ne[0] != 0)) return error.BadShape;
        const kind: Kind = if (tx.kind == .weight) .weight else .intermediate;
        return g.push(.{ .kind = kind, .type = tx.type, .ne = ne, .op = .view, .src = .{ x, null, null }, .params = .{ .view = offset } }, "");
    }

    /// Row n_tokens-1 of a [ne0, T] tensor: [ne0, 1] (only the last token's logits at decode).
    pub fn lastRow(g: *Graph, x: Id) Error!Id {
        return g.node(.last_row, .{ x, null, null }, .none);
    }

    /// i32 [1, T]: pos .. pos+n_tokens-1, filled by the executor each step (learned position
    /// embeddings: getRows(pos_embd, positions())). One per graph.
    pub fn positions(g: *Graph) Error!Id {
        return g.node(.positions, .{ null, null, null }, .none);
    }

    /// Follows views to the tensor that owns the storage; returns it and the element offset.
    pub fn root(g: *const Graph, id: Id) struct { id: Id, offset: u64 } {
        var cur = id;
        var off: u64 = 0;
        while (true) {
            const t = g.tensors.items[cur];
            switch (t.op) {
                .view => {
                    off += t.params.view;
                    cur = t.src[0].?;
                },
                .kv_store => cur = t.src[0].?,
                .none, .get_rows, .mul_mat, .rms_norm, .layer_norm, .add, .mul, .scale, .silu, .gelu => return .{ .id = cur, .offset = off },
                .swiglu, .softmax, .rope, .attention, .cpy, .last_row, .positions => return .{ .id = cur, .offset = off },
            }
        }
    }
};

test "builder: shapes are checked and errors never panic" {
    var g = try Graph.init(std.testing.allocator, .{ .max_tokens = 4 });
    defer g.deinit();
    const ids = try g.inputTokens("ids");
    const emb = try g.weight("emb", .f32, .{ 8, 10, 1, 1 }, null);
    const x = try g.getRows(emb, ids);
    try std.testing.expectEqual([4]u64{ 8, 4, 1, 1 }, g.get(x).ne);
    const w = try g.weight("w", .f32, .{ 8, 6, 1, 1 }, null);
    const y = try g.mulMat(w, x);
    try std.testing.expectEqual([4]u64{ 6, 4, 1, 1 }, g.get(y).ne);
    try std.testing.expectError(error.BadShape, g.mulMat(w, y));
    try std.testing.expectError(error.BadShape, g.add(x, y));
    try std.testing.expectError(error.InvalidArgument, g.add(x, 999));
    const q = try g.reshape(x, .{ 4, 2, 4, 1 });
    try std.testing.expectEqual(@as(?u2, 2), g.get(q).tok);
    try std.testing.expectError(error.BadShape, g.reshape(x, .{ 4, 4, 2, 1 }));
    try std.testing.expectError(error.InvalidArgument, g.rope(q, .{ .n_rot = 3 }));
    _ = try g.rope(q, .{ .n_rot = 4 });
    const kc = try g.state("k", .f16, .{ 4, 1, 16, 1 });
    try std.testing.expectError(error.BadShape, g.kvStore(kc, x));
    const k = try g.mulMat(try g.weight("wk", .f32, .{ 8, 4, 1, 1 }, null), x);
    const kc1 = try g.kvStore(kc, k);
    _ = try g.attention(q, kc1, kc1, .{ .n_head_kv = 1 });
    try std.testing.expectError(error.BadShape, g.attention(q, kc1, kc1, .{ .n_head_kv = 2 }));
    try std.testing.expectError(error.BadShape, g.weight("bad", .q4_0, .{ 8, 1, 1, 1 }, null));
}
