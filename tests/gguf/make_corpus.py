#!/usr/bin/env python3
"""Builds a corpus of malformed GGUF files for the reader's error paths.

usage: make_corpus.py OUT_DIR

Writes OUT_DIR/<case>.gguf and OUT_DIR/manifest.tsv with lines `file<TAB>expected substring`:
the reader must reject each file with error.InvalidGguf and a diagnostic containing the substring.
core/gguf/corpus_test.zig runs them when PI5_GGUF_CORPUS names OUT_DIR. One valid file
(`valid.gguf`, expected substring `OK`) guards against a builder that is broken itself.
Standard library only.
"""
import os
import struct
import sys

# GGUF value types
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
# ggml types
GF32, GF16, GQ8_0 = 0, 1, 8


def s(b, v1=False):
    """Length-prefixed string (u32 length in v1, u64 after)."""
    if isinstance(b, str):
        b = b.encode()
    return struct.pack('<I' if v1 else '<Q', len(b)) + b


def kv(key, vtype, payload, v1=False):
    return s(key, v1) + struct.pack('<I', vtype) + payload


def tinfo(name, dims, gtype, offset, v1=False, n_dims=None):
    n = len(dims) if n_dims is None else n_dims
    out = s(name, v1) + struct.pack('<I', n)
    out += b''.join(struct.pack('<I' if v1 else '<Q', d) for d in dims)
    return out + struct.pack('<IQ', gtype, offset)


def align(n, a):
    return (n + a - 1) // a * a


class Gguf:
    """A small valid GGUF (two F32 tensors) whose every piece can be overridden."""

    def __init__(self, version=3):
        self.version = version
        self.magic = b'GGUF'
        self.kvs = [
            kv('general.architecture', STRING, s('llama', version == 1), version == 1),
            kv('llama.block_count', U32, struct.pack('<I', 1), version == 1),
        ]
        self.tensors = [
            tinfo('a.weight', [8, 2], GF32, 0, version == 1),
            tinfo('b.weight', [4], GF32, 64, version == 1),
        ]
        self.n_kv = None
        self.n_tensors = None
        self.alignment = 32
        self.data = bytes(range(64)) + bytes(16)

    def build(self, marks=None):
        v1 = self.version == 1
        cnt = '<I' if v1 else '<Q'
        out = self.magic + struct.pack('<I', self.version)
        out += struct.pack(cnt, len(self.tensors) if self.n_tensors is None else self.n_tensors)
        out += struct.pack(cnt, len(self.kvs) if self.n_kv is None else self.n_kv)
        m = {'counts': len(out)}
        for i, k in enumerate(self.kvs):
            m['kv%d' % i] = len(out)
            out += k
        m['kvs_end'] = len(out)
        for i, t in enumerate(self.tensors):
            m['tensor%d' % i] = len(out)
            out += t
        m['infos_end'] = len(out)
        out += bytes(align(len(out), self.alignment) - len(out))
        m['data'] = len(out)
        out += self.data
        if marks is not None:
            marks.update(m)
        return out


def cases():
    """Yields (name, bytes, expected substring)."""
    marks = {}
    valid = Gguf().build(marks)
    yield 'valid', valid, 'OK'
    v1 = Gguf(1).build()
    yield 'valid_v1', v1, 'OK'

    # Truncations at every section boundary (and inside each section).
    yield 'trunc_empty', b'', 'too short'
    yield 'trunc_magic', valid[:3], 'too short'
    yield 'trunc_version', valid[:6], 'too short'
    yield 'trunc_counts', valid[:12], 'truncated'
    yield 'trunc_before_kvs', valid[:marks['counts']], 'truncated'
    yield 'trunc_in_key', valid[:marks['kv0'] + 10], 'truncated'
    yield 'trunc_in_value', valid[:marks['kv1'] - 2], 'truncated'
    yield 'trunc_before_infos', valid[:marks['kvs_end']], 'truncated'
    yield 'trunc_in_info', valid[:marks['tensor1'] + 5], 'truncated'
    yield 'trunc_before_data', valid[:marks['infos_end']], 'extends past the end'
    yield 'trunc_in_data', valid[:marks['data'] + 30], 'extends past the end'
    yield 'trunc_v1_in_info', v1[:len(v1) - 100], 'truncated'

    g = Gguf(); g.magic = b'GGML'
    yield 'bad_magic', g.build(), 'bad magic'
    g = Gguf(); g.version = 4
    yield 'bad_version_4', g.build(), 'unsupported GGUF version 4'
    g = Gguf(); g.version = 0
    yield 'bad_version_0', g.build(), 'unsupported GGUF version 0'
    yield 'big_endian', valid[:4] + struct.pack('>I', 3) + valid[8:], 'big-endian'

    g = Gguf(); g.n_kv = 1 << 62
    yield 'huge_kv_count', g.build(), 'metadata key count'
    g = Gguf(); g.n_tensors = 1 << 40
    yield 'huge_tensor_count', g.build(), 'tensor count'
    g = Gguf(1); g.n_kv = 0xFFFFFFFF
    yield 'huge_kv_count_v1', g.build(), 'metadata key count'
    g = Gguf(); g.kvs[0] = struct.pack('<Q', 1 << 60) + b'general'
    yield 'huge_key_length', g.build(), 'string length'
    g = Gguf(); g.kvs[0] = kv('general.architecture', STRING, struct.pack('<Q', (1 << 64) - 1) + b'llama')
    yield 'huge_string_value', g.build(), 'string length'
    g = Gguf(); g.kvs.append(kv('x.arr', ARRAY, struct.pack('<IQ', U32, 1 << 61)))
    yield 'huge_array_length', g.build(), 'array length'
    g = Gguf(); g.kvs.append(kv('x.strs', ARRAY, struct.pack('<IQ', STRING, 1 << 40) + s('a') * 4))
    yield 'huge_string_array', g.build(), 'array length'
    bomb = b''
    for _ in range(1000):
        bomb += struct.pack('<IQ', ARRAY, 1)
    g = Gguf(); g.kvs.append(kv('x.bomb', ARRAY, bomb + struct.pack('<IQ', U8, 0)))
    yield 'nested_array_bomb', g.build(), 'nested deeper'
    g = Gguf(); g.kvs.append(kv('x.wide', ARRAY, struct.pack('<IQ', ARRAY, 1 << 50)))
    yield 'wide_array_bomb', g.build(), 'array length'
    g = Gguf(); g.kvs.append(kv('x.bad', 13, b'\0' * 8))
    yield 'bad_value_type', g.build(), 'unknown value type 13'
    g = Gguf(); g.kvs.append(kv('x.bad', ARRAY, struct.pack('<IQ', 99, 1) + b'\0' * 8))
    yield 'bad_array_elem_type', g.build(), 'unknown array element type 99'
    g = Gguf(); g.kvs.append(kv('x.flag', BOOL, b'\x07'))
    yield 'bad_bool', g.build(), 'bool value is 7'
    g = Gguf(); g.kvs.append(kv('llama.block_count', U32, struct.pack('<I', 2)))
    yield 'duplicate_key', g.build(), "duplicate metadata key 'llama.block_count'"
    g = Gguf(); g.kvs.append(kv(b'bad\xff\xfekey', U32, struct.pack('<I', 2)))
    yield 'non_utf8_key', g.build(), 'metadata key is not valid UTF-8'
    g = Gguf(); g.kvs.append(kv('', U32, struct.pack('<I', 2)))
    yield 'empty_key', g.build(), 'empty metadata key'

    g = Gguf(); g.kvs.append(kv('general.alignment', U32, struct.pack('<I', 0)))
    yield 'alignment_zero', g.build(), 'nonzero power of two'
    g = Gguf(); g.kvs.append(kv('general.alignment', U32, struct.pack('<I', 48)))
    yield 'alignment_not_pow2', g.build(), 'is 48: must be a nonzero power of two'
    g = Gguf(); g.kvs.append(kv('general.alignment', STRING, s('32')))
    yield 'alignment_wrong_type', g.build(), "'general.alignment' must be u32"

    g = Gguf(); g.tensors[0] = tinfo('a.weight', [8, 2], 4, 0)
    yield 'ggml_type_removed_q4_2', g.build(), 'unknown ggml type 4'
    g = Gguf(); g.tensors[0] = tinfo('a.weight', [8, 2], 1000, 0)
    yield 'ggml_type_unknown', g.build(), 'unknown ggml type 1000'
    g = Gguf(); g.tensors[0] = tinfo('a.weight', [8, 2, 1, 1, 1], GF32, 0)
    yield 'n_dims_5', g.build(), 'n_dims 5'
    g = Gguf(); g.tensors[0] = tinfo('a.weight', [], GF32, 0)
    yield 'n_dims_0', g.build(), 'n_dims 0'
    g = Gguf(); g.tensors[0] = tinfo('a.weight', [8, 0], GF32, 0)
    yield 'zero_dim', g.build(), 'dimension 1 is 0'
    g = Gguf(); g.tensors[0] = tinfo('a.weight', [1 << 32, 1 << 32], GF32, 0)
    yield 'dims_overflow', g.build(), 'element count overflows'
    g = Gguf(); g.tensors[0] = tinfo('a.weight', [1 << 63], GF32, 0)
    yield 'dim_negative_as_i64', g.build(), 'dimension 0 is'
    g = Gguf(); g.tensors[0] = tinfo('a.weight', [1 << 62], GF32, 0)
    yield 'bytes_overflow', g.build(), 'byte size overflows'
    g = Gguf(); g.tensors[0] = tinfo('a.weight', [1 << 40, 1 << 20], GF32, 0)
    yield 'size_past_end', g.build(), "'a.weight': data"
    g = Gguf(); g.tensors[1] = tinfo('b.weight', [4], GF32, 4096)
    yield 'offset_out_of_range', g.build(), "tensor 'b.weight': data"
    g = Gguf(); g.tensors[1] = tinfo('b.weight', [4], GF32, (1 << 64) - 32)
    yield 'offset_wraps', g.build(), 'extends past the end'
    g = Gguf(); g.tensors[1] = tinfo('b.weight', [4], GF32, 32)
    yield 'overlapping_tensors', g.build(), 'overlaps'
    g = Gguf(); g.tensors[1] = tinfo('b.weight', [4], GF32, 40)
    yield 'misaligned_offset', g.build(), 'not a multiple of the alignment 32'
    g = Gguf(); g.tensors[0] = tinfo('a.weight', [172, 1], GQ8_0, 0); g.data = bytes(256)
    yield 'q8_0_row_172', g.build(), "row of 172 elements is not a multiple of Q8_0's block of 32"
    g = Gguf(); g.tensors[1] = tinfo('a.weight', [4], GF32, 64)
    yield 'duplicate_tensor', g.build(), "duplicate tensor name 'a.weight'"
    g = Gguf(); g.tensors[1] = tinfo(b'b\xc3(', [4], GF32, 64)
    yield 'non_utf8_tensor_name', g.build(), 'tensor name is not valid UTF-8'
    g = Gguf(); g.tensors[1] = tinfo('b' * 64, [4], GF32, 64)
    yield 'tensor_name_too_long', g.build(), 'ggml allows 63'
    g = Gguf(); g.tensors[1] = struct.pack('<Q', 1 << 62) + b'b.weight'
    yield 'huge_tensor_name', g.build(), 'string length'


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    lines = []
    for name, data, expected in cases():
        assert '\t' not in expected and '\n' not in expected
        fn = name + '.gguf'
        with open(os.path.join(out, fn), 'wb') as f:
            f.write(data)
        lines.append('%s\t%s\n' % (fn, expected))
    with open(os.path.join(out, 'manifest.tsv'), 'w') as f:
        f.writelines(lines)
    print('%d files in %s' % (len(lines), out))


if __name__ == '__main__':
    main()
