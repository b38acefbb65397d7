//! Pre-tokenizers of byte-level BPE vocabularies, chosen by `tokenizer.ggml.pre` as llama.cpp's
//! llm_tokenizer_bpe does: a list of regexes applied one after the other, each splitting every
//! piece the previous one left (matches and the text between them both become pieces). As in
//! llama.cpp's unicode_regex_split, the GPT-2, Llama 3 and Qwen2 patterns have hand-written
//! matchers; the others run on a small backtracking matcher with ECMAScript (std::regex)
//! semantics over either "collapsed" text (patterns with \p{..}: every code point ≥ 0x80 becomes
//! one byte naming its category, whitespace becomes \v) or the code points themselves (other
//! patterns; non-ASCII whitespace becomes \v, since std::regex's \s only knows ASCII).
//! Invalid UTF-8 bytes count as U+FFFD for matching but keep their original bytes.
const std = @import("std");
const unicode = @import("unicode.zig");

const names_mod = @import("pretok_names.zig");
pub const Kind = names_mod.Kind;
pub const Info = names_mod.Info;
pub const lookup = names_mod.lookup;
pub const names = names_mod.names;

// ---- the patterns (llama.cpp's regex_exprs, verbatim) ----

const gpt2_re = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
const contractions = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";
const gpt4o_re = "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+" ++ contractions ++
    "?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*" ++ contractions ++ "?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const tekken_re = "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const deepseek_letters = "\\s?[A-Za-z\u{B5}\u{C0}-\u{D6}\u{D8}-\u{F6}\u{F8}-\u{1BA}\u{1BC}-\u{1BF}\u{1C4}-\u{293}\u{295}-\u{2AF}\u{370}-\u{373}\u{376}\u{377}\u{37B}-\u{37D}\u{37F}\u{386}\u{388}-\u{38A}" ++
    "\u{38C}\u{38E}-\u{3A1}\u{3A3}-\u{3F5}\u{3F7}-\u{481}\u{48A}-\u{52F}\u{531}-\u{556}\u{10A0}-\u{10C5}\u{13A0}-\u{13F5}\u{13F8}-\u{13FD}\u{1C90}-\u{1CBA}\u{1CBD}-\u{1CBF}\u{1D00}-" ++
    "\u{1D2B}\u{1D6B}-\u{1D77}\u{1D79}-\u{1D9A}\u{1E00}-\u{1F15}\u{1F18}-\u{1F1D}\u{1F20}-\u{1F45}\u{1F48}-\u{1F4D}\u{1F50}-\u{1F57}\u{1F59}\u{1F5B}\u{1F5D}\u{1F5F}-\u{1F7D}\u{1F80}-" ++
    "\u{1FB4}\u{1FB6}-\u{1FBC}\u{1FBE}\u{1FC2}-\u{1FC4}\u{1FC6}-\u{1FCC}\u{1FD0}-\u{1FD3}\u{1FD6}-\u{1FDB}\u{1FE0}-\u{1FEC}\u{1FF2}-\u{1FF4}\u{1FF6}-\u{1FFC}\u{2102}\u{2107}\u{210A}-" ++
    "\u{2113}\u{2115}\u{2119}-\u{211D}\u{2124}\u{2126}\u{2128}\u{212A}-\u{212D}\u{212F}-\u{2134}\u{2139}\u{213C}-\u{213F}\u{2145}-\u{2149}\u{214E}\u{2183}\u{2184}\u{2C00}-\u{2C7B}" ++
    "\u{2C7E}-\u{2CE4}\u{2CEB}-\u{2CEE}\u{2CF2}\u{2CF3}\u{A640}-\u{A66D}\u{A680}-\u{A69B}\u{A722}-\u{A76F}\u{A771}-\u{A787}\u{A78B}-\u{A78E}\u{AB70}-\u{ABBF}\u{FB00}-\u{FB06}\u{FB13}-" ++
    "\u{FB17}\u{FF21}-\u{FF3A}\u{FF41}-\u{FF5A}\u{10400}-\u{1044F}\u{104B0}-\u{104D3}\u{104D8}-\u{104FB}\u{10C80}-\u{10CB2}\u{10CC0}-\u{10CF2}\u{118A0}-\u{118DF}\u{1E900}-\u{1E943}]+";
const cjk = "[\u{4E00}-\u{9FA5}\u{800}-\u{4E00}\u{AC00}-\u{D7FF}]+";
const bloom_re = " ?[^(\\s|.,!?\u{2026}\u{3002}\u{FF0C}\u{3001}\u{964}\u{6D4}\u{60C})]+";

fn patterns(kind: Kind) []const []const u8 {
    return switch (kind) {
        .default => &.{ "[\\p{P}\\$\\+<=>\\^~\\|]+", gpt2_re, "\\p{N}+", "[0-9][0-9][0-9]" },
        .gpt2 => &.{gpt2_re},
        .llama3 => &.{"llama3"},
        .qwen2 => &.{"qwen2"},
        .deepseek_llm => &.{ "[\r\n]", deepseek_letters, "\\s?[!-/:-~\u{FF01}-\u{FF0F}\u{FF1A}-\u{FF5E}\u{2018}-\u{201F}\u{3000}-\u{3002}]+", "\\s+$", cjk, "\\p{N}+" },
        .deepseek_coder => &.{ "[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", cjk, "\\p{N}" },
        .falcon => &.{ "[\\p{P}\\$\\+<=>\\^~\\|`]+", gpt2_re, "[0-9][0-9][0-9]" },
        .starcoder => &.{ "\\p{N}", gpt2_re },
        .bloom => &.{bloom_re},
        .viking => &.{ bloom_re, "\\p{N}" },
        .gpt4o => &.{gpt4o_re},
        .tekken => &.{tekken_re},
    };
}

// ---- code points and their classes ----

pub const Flags = packed struct(u8) {
    in_range: bool = false,
    letter: bool = false,
    number: bool = false,
    space: bool = false,
    punct: bool = false,
    mark: bool = false,
    symbol: bool = false,
    _: u1 = 0,
};

fn flagsOf(cp: u21) Flags {
    return .{
        .in_range = true,
        .letter = unicode.isLetter(cp),
        .number = unicode.isNumber(cp),
        .space = unicode.isWhitespace(cp),
        .punct = unicode.isPunctuation(cp),
        .mark = unicode.isMark(cp),
        .symbol = unicode.isSymbol(cp),
    };
}

/// The text as code points: `cps[i]` starts at byte `starts[i]` (starts has one extra entry, the
/// text length).
const Text = struct {
    cps: []u21,
    flags: []Flags,
    starts: []usize,
};

// ---- the hand-written matchers (unicode_regex_split_custom_*) ----

const Chunk = struct {
    t: *const Text,
    lo: usize,
    hi: usize,
    out: *std.ArrayList(usize),
    prev_end: usize,

    const oor: u32 = 0xFFFF_FFFF;

    fn cpt(c: *const Chunk, p: usize) u32 {
        return if (p >= c.lo and p < c.hi) c.t.cps[p] else oor;
    }
    fn fl(c: *const Chunk, p: usize) Flags {
        return if (p >= c.lo and p < c.hi) c.t.flags[p] else .{};
    }
    fn add(c: *Chunk, end: usize) !usize {
        const len = end - c.prev_end;
        if (len > 0) try c.out.append(len);
        c.prev_end = end;
        return len;
    }
};

fn lower(c: u32) u32 {
    return if (c >= 'A' and c <= 'Z') c + 32 else c;
}

/// 's|'t|'re|'ve|'m|'ll|'d, case-insensitive or not; returns the length matched at p.
fn contraction(c: *const Chunk, p: usize, fold: bool) usize {
    if (c.cpt(p) != '\'' or p + 1 >= c.hi) return 0;
    const n1 = if (fold) lower(c.cpt(p + 1)) else c.cpt(p + 1);
    if (n1 == 's' or n1 == 't' or n1 == 'm' or n1 == 'd') return 2;
    if (p + 2 < c.hi) {
        const n2 = if (fold) lower(c.cpt(p + 2)) else c.cpt(p + 2);
        if ((n1 == 'r' and n2 == 'e') or (n1 == 'v' and n2 == 'e') or (n1 == 'l' and n2 == 'l')) return 3;
    }
    return 0;
}

/// The end of the piece at `pos` that starts with `nws` whitespace code points, as GPT-2's and
/// Llama 3's `\s+(?!\S)|\s+` take it (all but the last before a non-space, all at the end of
/// the text), or of the one code point there when nws is 0.
fn endOfSpaces(c: *const Chunk, pos: usize, nws: usize) usize {
    if (nws > 1 and c.cpt(pos + nws) != Chunk.oor) return pos + nws - 1;
    if (nws > 0) return pos + nws;
    return pos + 1;
}

fn notWln(f: Flags) bool {
    return !(f.space or f.letter or f.number) and f.in_range;
}

/// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
fn splitGpt2(c: *Chunk) !void {
    var pos = c.lo;
    while (pos < c.hi) {
        const cp = c.cpt(pos);
        const n = contraction(c, pos, false);
        if (n > 0) {
            pos += try c.add(pos + n);
            continue;
        }
        var f2 = if (cp == ' ') c.fl(pos + 1) else c.fl(pos);
        if (f2.letter or f2.number or notWln(f2)) {
            const want: enum { l, n, o } = if (f2.letter) .l else if (f2.number) .n else .o;
            if (cp == ' ') pos += 1;
            while (switch (want) {
                .l => f2.letter,
                .n => f2.number,
                .o => notWln(f2),
            }) {
                pos += 1;
                f2 = c.fl(pos);
            }
            _ = try c.add(pos);
            continue;
        }
        var nws: usize = 0;
        while (c.fl(pos + nws).space) nws += 1;
        pos = endOfSpaces(c, pos, nws);
        _ = try c.add(pos);
    }
}

/// Llama 3 (digits in runs of up to 3) and Qwen2 (single digits):
/// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
fn splitLlama3(c: *Chunk, max_digits: usize) !void {
    var pos = c.lo;
    while (pos < c.hi) {
        const cp = c.cpt(pos);
        const f = c.fl(pos);
        const n = contraction(c, pos, true);
        if (n > 0) {
            pos += try c.add(pos + n);
            continue;
        }
        if (!(cp == '\r' or cp == '\n' or f.number) and (f.letter or c.fl(pos + 1).letter)) {
            pos += 1;
            while (c.fl(pos).letter) pos += 1;
            _ = try c.add(pos);
            continue;
        }
        if (f.number) {
            var ini = pos;
            while (c.fl(pos).number) {
                pos += 1;
                if (pos - ini >= max_digits) {
                    _ = try c.add(pos);
                    ini = pos;
                }
            }
            _ = try c.add(pos);
            continue;
        }
        var f2 = if (cp == ' ') c.fl(pos + 1) else f;
        if (!(f2.space or f2.letter or f2.number) and f.in_range) {
            if (cp == ' ') pos += 1;
            while (notWln(f2)) {
                pos += 1;
                f2 = c.fl(pos);
            }
            while (c.cpt(pos) == '\r' or c.cpt(pos) == '\n') pos += 1;
            _ = try c.add(pos);
            continue;
        }
        var nws: usize = 0;
        var last_rn: usize = 0;
        while (c.fl(pos + nws).space) {
            const c2 = c.cpt(pos + nws);
            if (c2 == '\r' or c2 == '\n') last_rn = pos + nws + 1;
            nws += 1;
        }
        if (last_rn > 0) {
            pos = last_rn;
            _ = try c.add(pos);
            continue;
        }
        pos = endOfSpaces(c, pos, nws);
        _ = try c.add(pos);
    }
}

// ---- a small backtracking regex matcher (ECMAScript semantics, greedy quantifiers) ----

const Range = struct { lo: u32, hi: u32 };

const Class = struct {
    ranges: []const Range,
    neg: bool = false,
    space: bool = false,
    nonspace: bool = false,

    fn matches(k: *const Class, u: u32) bool {
        var hit = (k.space and isSpaceUnit(u)) or (k.nonspace and !isSpaceUnit(u));
        if (!hit) for (k.ranges) |r| {
            if (u >= r.lo and u <= r.hi) {
                hit = true;
                break;
            }
        };
        return hit != k.neg;
    }
};

/// std::regex's \s in the "C" locale.
fn isSpaceUnit(u: u32) bool {
    return u == ' ' or (u >= 0x09 and u <= 0x0D);
}

/// Collapsed-text bytes of llama.cpp's unicode_regex_split.
const col_number = 0xD1;
const col_letter = 0xD2;
const col_punct = 0xD3;
const col_mark = 0xD4;
const col_symbol = 0xD5;
const col_other = 0xD0;

fn collapse(cp: u21, f: Flags) u32 {
    if (cp < 128) return cp;
    if (f.space) return 0x0B;
    if (f.number) return col_number;
    if (f.letter) return col_letter;
    if (f.punct) return col_punct;
    if (f.mark) return col_mark;
    if (f.symbol) return col_symbol;
    return col_other;
}

const Inst = union(enum) {
    class: u32,
    split: struct { u32, u32 },
    jmp: u32,
    /// (?=X) / (?!X) over a single character class.
    look: struct { class: u32, neg: bool },
    end,
    match,
};

pub const Program = struct {
    insts: []const Inst,
    classes: []const Class,
    collapsed: bool,
};

pub const ParseError = error{ BadPattern, OutOfMemory };

const Parser = struct {
    a: std.mem.Allocator,
    src: []const u21,
    i: usize = 0,
    collapsed: bool,
    insts: std.ArrayList(Inst),
    classes: std.ArrayList(Class),

    fn peek(p: *const Parser) ?u21 {
        return if (p.i < p.src.len) p.src[p.i] else null;
    }

    fn emit(p: *Parser, inst: Inst) !u32 {
        try p.insts.append(inst);
        return @intCast(p.insts.items.len - 1);
    }

    /// Parses an alternation into a fragment of code; returns nothing (code is appended).
    fn alt(p: *Parser) ParseError!void {
        // a|b|c  →  split L1, L2; L1: a; jmp end; L2: split ...; last: c; end:
        var jumps = std.ArrayList(u32).init(p.a);
        defer jumps.deinit();
        while (true) {
            const sp = try p.emit(.{ .split = .{ 0, 0 } });
            p.insts.items[sp].split[0] = @intCast(p.insts.items.len);
            try p.seq();
            if (p.peek() != @as(u21, '|')) {
                // The last alternative needs no split: turn it into a no-op jump to the next inst.
                p.insts.items[sp] = .{ .jmp = sp + 1 };
                break;
            }
            p.i += 1;
            try jumps.append(try p.emit(.{ .jmp = 0 }));
            p.insts.items[sp].split[1] = @intCast(p.insts.items.len);
        }
        const end: u32 = @intCast(p.insts.items.len);
        for (jumps.items) |j| p.insts.items[j] = .{ .jmp = end };
    }

    fn seq(p: *Parser) ParseError!void {
        while (p.peek()) |c| {
            if (c == '|' or c == ')') return;
            const start: u32 = @intCast(p.insts.items.len);
            try p.atom();
            try p.quantifier(start);
        }
    }

    fn quantifier(p: *Parser, start: u32) ParseError!void {
        const c = p.peek() orelse return;
        var min: u32 = 0;
        var max: ?u32 = null;
        switch (c) {
            '*' => p.i += 1,
            '+' => {
                p.i += 1;
                min = 1;
            },
            '?' => {
                p.i += 1;
                max = 1;
            },
            '{' => {
                p.i += 1;
                min = try p.number();
                max = min;
                if (p.peek() == @as(u21, ',')) {
                    p.i += 1;
                    max = if (p.peek() == @as(u21, '}')) null else try p.number();
                }
                if (p.peek() != @as(u21, '}')) return error.BadPattern;
                p.i += 1;
            },
            else => return,
        }
        if (p.peek() == @as(u21, '?')) return error.BadPattern; // lazy quantifiers: not needed
        // Copy the atom's code out, then lay out min copies, then the optional ones.
        const body = try p.a.dupe(Inst, p.insts.items[start..]);
        defer p.a.free(body);
        p.insts.shrinkRetainingCapacity(start);
        var k: u32 = 0;
        while (k < min) : (k += 1) try p.copy(body, start);
        if (max) |m| {
            // Each optional copy: split body, end (patched to the end of all copies).
            var splits = std.ArrayList(u32).init(p.a);
            defer splits.deinit();
            while (k < m) : (k += 1) {
                const sp = try p.emit(.{ .split = .{ 0, 0 } });
                p.insts.items[sp].split[0] = sp + 1;
                try splits.append(sp);
                try p.copy(body, start);
            }
            const end: u32 = @intCast(p.insts.items.len);
            for (splits.items) |sp| p.insts.items[sp].split[1] = end;
        } else {
            const sp = try p.emit(.{ .split = .{ 0, 0 } });
            p.insts.items[sp].split[0] = sp + 1;
            try p.copy(body, start);
            _ = try p.emit(.{ .jmp = sp });
            p.insts.items[sp].split[1] = @intCast(p.insts.items.len);
        }
    }

    /// Appends a copy of a code fragment that was generated at `origin`, relocating its jumps.
    fn copy(p: *Parser, body: []const Inst, origin: u32) !void {
        const base: u32 = @intCast(p.insts.items.len);
        try p.insts.appendSlice(body);
        for (p.insts.items[base..]) |*inst| switch (inst.*) {
            .split => |*s| {
                s[0] = s[0] - origin + base;
                s[1] = s[1] - origin + base;
            },
            .jmp => |*j| j.* = j.* - origin + base,
            else => {},
        };
    }

    fn number(p: *Parser) ParseError!u32 {
        var v: u32 = 0;
        var any = false;
        while (p.peek()) |c| {
            if (c < '0' or c > '9') break;
            v = v * 10 + (c - '0');
            any = true;
            p.i += 1;
        }
        if (!any) return error.BadPattern;
        return v;
    }

    fn addClass(p: *Parser, k: Class) !u32 {
        try p.classes.append(k);
        return @intCast(p.classes.items.len - 1);
    }

    fn atom(p: *Parser) ParseError!void {
        const c = p.peek().?;
        p.i += 1;
        switch (c) {
            '(' => {
                if (p.peek() == @as(u21, '?')) {
                    p.i += 1;
                    const kind = p.peek() orelse return error.BadPattern;
                    p.i += 1;
                    switch (kind) {
                        ':' => try p.alt(),
                        '=', '!' => {
                            // Only a one-character-class body is supported (all the patterns need).
                            const k = try p.singleClass();
                            _ = try p.emit(.{ .look = .{ .class = k, .neg = kind == '!' } });
                        },
                        else => return error.BadPattern,
                    }
                } else try p.alt();
                if (p.peek() != @as(u21, ')')) return error.BadPattern;
                p.i += 1;
            },
            '[' => _ = try p.emit(.{ .class = try p.bracket() }),
            '$' => _ = try p.emit(.end),
            '\\' => _ = try p.emit(.{ .class = try p.escapeClass() }),
            '^', '.', '*', '+', '?', '{', ')', '|' => return error.BadPattern,
            else => {
                if (p.collapsed and c >= 128) return error.BadPattern;
                const r = try p.a.dupe(Range, &.{.{ .lo = c, .hi = c }});
                _ = try p.emit(.{ .class = try p.addClass(.{ .ranges = r }) });
            },
        }
    }

    fn singleClass(p: *Parser) ParseError!u32 {
        const c = p.peek() orelse return error.BadPattern;
        p.i += 1;
        return switch (c) {
            '[' => p.bracket(),
            '\\' => p.escapeClass(),
            else => p.addClass(.{ .ranges = try p.a.dupe(Range, &.{.{ .lo = c, .hi = c }}) }),
        };
    }

    /// After a backslash outside brackets.
    fn escapeClass(p: *Parser) ParseError!u32 {
        var ranges = std.ArrayList(Range).init(p.a);
        var k = Class{ .ranges = &.{} };
        try p.escapeInto(&ranges, &k);
        k.ranges = try ranges.toOwnedSlice();
        return p.addClass(k);
    }

    /// Parses the escape after '\' into ranges / class flags.
    fn escapeInto(p: *Parser, ranges: *std.ArrayList(Range), k: *Class) ParseError!void {
        const e = p.peek() orelse return error.BadPattern;
        p.i += 1;
        switch (e) {
            's' => k.space = true,
            'S' => k.nonspace = true,
            'd' => try ranges.append(.{ .lo = '0', .hi = '9' }),
            'r' => try ranges.append(.{ .lo = '\r', .hi = '\r' }),
            'n' => try ranges.append(.{ .lo = '\n', .hi = '\n' }),
            't' => try ranges.append(.{ .lo = '\t', .hi = '\t' }),
            'p' => {
                if (!p.collapsed) return error.BadPattern;
                if (p.peek() != @as(u21, '{')) return error.BadPattern;
                const close = std.mem.indexOfScalarPos(u21, p.src, p.i, '}') orelse return error.BadPattern;
                const name = p.src[p.i + 1 .. close];
                p.i = close + 1;
                try categoryInto(name, ranges);
            },
            else => {
                if (e >= 128 or std.ascii.isAlphanumeric(@intCast(e))) return error.BadPattern;
                try ranges.append(.{ .lo = e, .hi = e });
            },
        }
    }

    /// After '['.
    fn bracket(p: *Parser) ParseError!u32 {
        var ranges = std.ArrayList(Range).init(p.a);
        var k = Class{ .ranges = &.{} };
        if (p.peek() == @as(u21, '^')) {
            k.neg = true;
            p.i += 1;
        }
        while (true) {
            const c = p.peek() orelse return error.BadPattern;
            p.i += 1;
            if (c == ']') break;
            var lo: u32 = c;
            if (c == '\\') {
                const before = ranges.items.len;
                const e = p.peek() orelse return error.BadPattern;
                try p.escapeInto(&ranges, &k);
                // A single-character escape may start a range (\[-\]).
                const single = e != 's' and e != 'S' and e != 'd' and e != 'p' and ranges.items.len == before + 1;
                if (!single or p.peek() != @as(u21, '-')) continue;
                lo = ranges.pop().lo;
            } else if (p.collapsed and c >= 128) return error.BadPattern;
            if (p.peek() == @as(u21, '-') and p.i + 1 < p.src.len and p.src[p.i + 1] != ']') {
                p.i += 1;
                var hi: u32 = p.src[p.i];
                p.i += 1;
                if (hi == '\\') {
                    const e = p.peek() orelse return error.BadPattern;
                    p.i += 1;
                    hi = switch (e) {
                        'r' => '\r',
                        'n' => '\n',
                        't' => '\t',
                        else => if (e < 128 and !std.ascii.isAlphanumeric(@intCast(e))) e else return error.BadPattern,
                    };
                }
                if (hi < lo) return error.BadPattern;
                try ranges.append(.{ .lo = lo, .hi = hi });
            } else try ranges.append(.{ .lo = lo, .hi = lo });
        }
        k.ranges = try ranges.toOwnedSlice();
        return p.addClass(k);
    }
};

/// \p{..} in collapsed text: the category byte plus the ASCII characters of that category
/// (llama.cpp's k_ucat_cpt / k_ucat_map).
fn categoryInto(name: []const u21, ranges: *std.ArrayList(Range)) !void {
    var buf: [4]u8 = undefined;
    if (name.len > buf.len) return error.BadPattern;
    for (name, 0..) |c, i| buf[i] = if (c < 128) @intCast(c) else return error.BadPattern;
    const n = buf[0..name.len];
    const R = Range;
    const eq = std.mem.eql;
    if (eq(u8, n, "N")) {
        try ranges.appendSlice(&.{ R{ .lo = col_number, .hi = col_number }, R{ .lo = '0', .hi = '9' } });
    } else if (eq(u8, n, "L") or eq(u8, n, "Lu") or eq(u8, n, "Ll") or eq(u8, n, "Lt") or eq(u8, n, "Lm") or eq(u8, n, "Lo")) {
        try ranges.appendSlice(&.{ R{ .lo = col_letter, .hi = col_letter }, R{ .lo = 'A', .hi = 'Z' }, R{ .lo = 'a', .hi = 'z' } });
    } else if (eq(u8, n, "P")) {
        try ranges.appendSlice(&.{
            R{ .lo = col_punct, .hi = col_punct }, R{ .lo = 0x21, .hi = 0x23 }, R{ .lo = 0x25, .hi = 0x2A },
            R{ .lo = 0x2C, .hi = 0x2F },           R{ .lo = 0x3A, .hi = 0x3B }, R{ .lo = 0x3F, .hi = 0x40 },
            R{ .lo = 0x5B, .hi = 0x5D },           R{ .lo = 0x5F, .hi = 0x5F }, R{ .lo = 0x7B, .hi = 0x7B },
            R{ .lo = 0x7D, .hi = 0x7D },
        });
    } else if (eq(u8, n, "M")) {
        try ranges.append(R{ .lo = col_mark, .hi = col_mark });
    } else if (eq(u8, n, "S")) {
        try ranges.appendSlice(&.{
            R{ .lo = col_symbol, .hi = col_symbol }, R{ .lo = 0x24, .hi = 0x24 }, R{ .lo = 0x2B, .hi = 0x2B },
            R{ .lo = 0x3C, .hi = 0x3E },             R{ .lo = 0x5E, .hi = 0x5E }, R{ .lo = 0x60, .hi = 0x60 },
            R{ .lo = 0x7C, .hi = 0x7C },             R{ .lo = 0x7E, .hi = 0x7E },
        });
    } else return error.BadPattern;
}

/// Compiles `pattern` (UTF-8) into `a` (an arena: nothing is freed individually).
pub fn compile(a: std.mem.Allocator, pattern: []const u8) ParseError!Program {
    var cps = std.ArrayList(u21).init(a);
    var i: usize = 0;
    while (i < pattern.len) {
        const d = unicode.decodeAt(pattern, i);
        try cps.append(d.cp);
        i += d.len;
    }
    const collapsed = std.mem.indexOf(u8, pattern, "\\p{") != null;
    var p = Parser{ .a = a, .src = cps.items, .collapsed = collapsed, .insts = std.ArrayList(Inst).init(a), .classes = std.ArrayList(Class).init(a) };
    try p.alt();
    if (p.i != p.src.len) return error.BadPattern;
    _ = try p.emit(.match);
    return .{ .insts = try p.insts.toOwnedSlice(), .classes = try p.classes.toOwnedSlice(), .collapsed = collapsed };
}

pub const Thread = struct { pc: u32, pos: u32 };

/// End of the highest-priority non-empty match of `prog` starting at `start` within `units`
/// (the chunk), or null.
pub fn matchAt(prog: *const Program, units: []const u32, start: usize, stack: *std.ArrayList(Thread)) !?usize {
    stack.clearRetainingCapacity();
    try stack.append(.{ .pc = 0, .pos = @intCast(start) });
    while (stack.popOrNull()) |th| {
        var pc = th.pc;
        var pos: usize = th.pos;
        while (true) switch (prog.insts[pc]) {
            .class => |k| {
                if (pos < units.len and prog.classes[k].matches(units[pos])) {
                    pos += 1;
                    pc += 1;
                } else break;
            },
            .split => |s| {
                try stack.append(.{ .pc = s[1], .pos = @intCast(pos) });
                pc = s[0];
            },
            .jmp => |j| pc = j,
            .look => |l| {
                const hit = pos < units.len and prog.classes[l.class].matches(units[pos]);
                if (hit == l.neg) break;
                pc += 1;
            },
            .end => {
                if (pos != units.len) break;
                pc += 1;
            },
            .match => {
                if (pos == start) break; // match_not_null
                return pos;
            },
        };
    }
    return null;
}

// ---- the pipeline ----

pub const Stage = union(enum) { gpt2, llama3, qwen2, regex: Program };

pub const PreTokenizer = struct {
    stages: []const Stage,

    /// Builds the stages of `kind`; `a` should be an arena that lives as long as the result.
    pub fn init(a: std.mem.Allocator, kind: Kind) ParseError!PreTokenizer {
        const pats = patterns(kind);
        const stages = try a.alloc(Stage, pats.len);
        for (pats, stages) |pat, *s| {
            s.* = if (std.mem.eql(u8, pat, gpt2_re))
                .gpt2
            else if (std.mem.eql(u8, pat, "llama3"))
                .llama3
            else if (std.mem.eql(u8, pat, "qwen2"))
                .qwen2
            else
                .{ .regex = try compile(a, pat) };
        }
        return .{ .stages = stages };
    }

    /// Splits `text` into words (slices of `text`, in order, covering it exactly), appended to `words`.
    pub fn split(self: *const PreTokenizer, alloc: std.mem.Allocator, text: []const u8, words: *std.ArrayList([]const u8)) !void {
        if (text.len == 0) return;
        var arena = std.heap.ArenaAllocator.init(alloc);
        defer arena.deinit();
        const a = arena.allocator();

        var n: usize = 0;
        {
            var i: usize = 0;
            while (i < text.len) : (n += 1) i += unicode.decodeAt(text, i).len;
        }
        const t = Text{ .cps = try a.alloc(u21, n), .flags = try a.alloc(Flags, n), .starts = try a.alloc(usize, n + 1) };
        {
            var i: usize = 0;
            var k: usize = 0;
            while (i < text.len) : (k += 1) {
                const d = unicode.decodeAt(text, i);
                t.cps[k] = d.cp;
                t.flags[k] = flagsOf(d.cp);
                t.starts[k] = i;
                i += d.len;
            }
            t.starts[n] = text.len;
        }
        var units_collapsed: ?[]u32 = null;
        var units_wide: ?[]u32 = null;
        var stack = std.ArrayList(Thread).init(a);

        var offsets = std.ArrayList(usize).init(a);
        try offsets.append(n);
        var next = std.ArrayList(usize).init(a);
        for (self.stages) |stage| {
            next.clearRetainingCapacity();
            var lo: usize = 0;
            for (offsets.items) |len| {
                const hi = lo + len;
                defer lo = hi;
                var c = Chunk{ .t = &t, .lo = lo, .hi = hi, .out = &next, .prev_end = lo };
                switch (stage) {
                    .gpt2 => try splitGpt2(&c),
                    .llama3 => try splitLlama3(&c, 3),
                    .qwen2 => try splitLlama3(&c, 1),
                    .regex => |*prog| {
                        const units = if (prog.collapsed) units_collapsed orelse blk: {
                            const u = try a.alloc(u32, n);
                            for (u, t.cps, t.flags) |*x, cp, f| x.* = collapse(cp, f);
                            units_collapsed = u;
                            break :blk u;
                        } else units_wide orelse blk: {
                            const u = try a.alloc(u32, n);
                            for (u, t.cps, t.flags) |*x, cp, f| x.* = if (cp > 0x7F and f.space) 0x0B else cp;
                            units_wide = u;
                            break :blk u;
                        };
                        const chunk = units[lo..hi];
                        var s: usize = 0;
                        var prev: usize = 0;
                        while (s < chunk.len) {
                            if (try matchAt(prog, chunk, s, &stack)) |e| {
                                if (s > prev) try next.append(s - prev);
                                try next.append(e - s);
                                s = e;
                                prev = e;
                            } else s += 1;
                        }
                        if (chunk.len > prev) try next.append(chunk.len - prev);
                    },
                }
            }
            std.mem.swap(std.ArrayList(usize), &offsets, &next);
        }
        var k: usize = 0;
        for (offsets.items) |len| {
            try words.append(text[t.starts[k]..t.starts[k + len]]);
            k += len;
        }
    }
};

// ---- tests ----

test {
    _ = @import("pretok_test.zig");
}
