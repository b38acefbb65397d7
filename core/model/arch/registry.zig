//! The architectures this runtime knows: the only list of them. Adding one is a new file beside
//! this one (its hyperparameter keys, tensor table and build(); see llama.zig) and a line here.
const std = @import("std");
const spec = @import("spec.zig");

/// One tag per architecture, named by general.architecture, valued by a stable id (state files
/// record it).
pub const Arch = enum(u32) {
    llama = 1,
    phi2 = 2,
    gpt2 = 3,
};

pub fn desc(a: Arch) *const spec.Desc {
    return switch (a) {
        .llama => &@import("llama.zig").desc,
        .phi2 => &@import("phi2.zig").desc,
        .gpt2 => &@import("gpt2.zig").desc,
    };
}

/// "llama, phi2, gpt2" for messages.
pub const names = blk: {
    var s: []const u8 = "";
    for (std.meta.fieldNames(Arch), 0..) |n, i| s = s ++ (if (i > 0) ", " else "") ++ n;
    break :blk s;
};

pub fn byName(name: []const u8) ?Arch {
    return std.meta.stringToEnum(Arch, name);
}

test "every architecture's table is consistent" {
    for (std.enums.values(Arch)) |a| {
        const d = desc(a);
        for (d.tensors, 0..) |t, j| {
            // names are unique; vectors are [n, one]; per-layer names carry no blk. prefix
            for (d.tensors[0..j]) |u| try std.testing.expect(!std.mem.eql(u8, t.name, u.name));
            if (t.kind != .matrix) try std.testing.expectEqual(spec.Dim.one, t.ne[1]);
            try std.testing.expect(!std.mem.startsWith(u8, t.name, "blk."));
        }
        try std.testing.expect(d.find("token_embd.weight") != null);
        try std.testing.expect(d.find("output_norm.weight") != null);
    }
    try std.testing.expectEqualStrings("llama, phi2, gpt2", names);
    try std.testing.expectEqual(Arch.gpt2, byName("gpt2").?);
    try std.testing.expectEqual(spec.NormKind.layer, desc(.phi2).hparams.norm);
}
