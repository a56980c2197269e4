#!/usr/bin/env python3
"""Regenerates the seed corpus in tests/fuzz/corpus/ (checked in; run only to change it).

corpus/safetensors/   first byte = chunk-split seed, then a small safetensors file (valid ones of
                      every dtype, zero-sized tensors, metadata; and a few broken headers)
corpus/config/        the conformance configs (LM, STT, the three LM variants, Mimi) and variants
corpus/sentencepiece/ tiny hand-built models (identity, a one-rule charsmap) and small models
                      trained with Debian's spm_train (identity unigram, BPE with byte fallback,
                      and one nmt_nfkc model for the real charsmap trie) when spm_train exists
corpus/session/       byte programs for fuzz_session (frames, resets, Mimi steps)
corpus/bind_checks/   records (double, int64 lo, int64 hi, mode byte) for fuzz_bind_checks: the
                      numbers JavaScript callers pass (NaN, infinities, fractions, 2^53, -1)

Inputs the fuzzers find later are kept apart, in tests/fuzz/found/ (scripts/robustness.sh),
so regenerating this corpus never drops them.

Keep the whole corpus well under 1 MB.
"""
import json
import os
import random
import shutil
import struct
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "corpus")


def write(target, name, data):
    os.makedirs(os.path.join(OUT, target), exist_ok=True)
    with open(os.path.join(OUT, target, name), "wb") as f:
        f.write(data)


# --- safetensors -------------------------------------------------------------------------
def safetensors(tensors, metadata=None, pad=True):
    header, blobs, offset = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    while pad and len(text) % 8:
        text += b" "
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def raw_header(text, n=None):
    text = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(text) if n is None else n) + text


def make_safetensors():
    rnd = random.Random(5)
    f32 = lambda n: struct.pack("<%df" % n, *[rnd.uniform(-1, 1) for _ in range(n)])
    files = {
        "one_f32": safetensors([("w", "F32", [2, 3], f32(6))]),
        "dtypes": safetensors(
            [
                ("a.f32", "F32", [4], f32(4)),
                ("b.bf16", "BF16", [2, 2], bytes(rnd.randrange(256) for _ in range(8))),
                ("c.f16", "F16", [3], bytes(rnd.randrange(256) for _ in range(6))),
                ("d.i8", "I8", [5], bytes(range(5))),
                ("e.u8", "U8", [1, 3], bytes([1, 2, 255])),
                ("f.i32", "I32", [2], struct.pack("<2i", -1, 7)),
                ("g.i64", "I64", [1], struct.pack("<q", 1 << 40)),
            ],
            metadata={"format": "pt", "note": "caf\u00e9"},
        ),
        "zero_sized": safetensors(
            [("empty", "F32", [0, 4], b""), ("x", "F32", [2], f32(2)), ("scalar", "F32", [], f32(1)),
             ("tail", "I8", [0], b"")]
        ),
        "no_tensors": safetensors([], metadata={}),
        "unpadded": safetensors([("w", "F32", [1], f32(1))], pad=False),
        "q8_pair": safetensors([("lin.weight", "I8", [2, 4], bytes(range(8))), ("lin.weight_scale", "F32", [2], f32(2))]),
        "huge_length": struct.pack("<Q", (1 << 64) - 1) + b"{}",
        "overlap": raw_header(
            '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}'
        ) + bytes(12),
        "unknown_dtype": raw_header('{"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}') + b"\0",
        "nested": raw_header("[" * 70 + "]" * 70),
        "bad_utf8": raw_header(b'{"\xff\xfe":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}') + b"\0",
        "big_offsets": raw_header('{"a":{"dtype":"U8","shape":[9007199254740993],"data_offsets":[0,1e300]}}'),
    }
    for i, (name, data) in enumerate(sorted(files.items())):
        write("safetensors", name, bytes([i * 37 % 256]) + data)


# --- configs -----------------------------------------------------------------------------
def make_configs():
    sources = {
        "lm": "tests/data/lm/config.json",
        "stt": "tests/data/stt/config.json",
        "mimi": "tests/data/mimi/config.json",
    }
    variants = os.path.join(ROOT, "tests/data/lm-variants")
    for d in sorted(os.listdir(variants)):
        if os.path.isfile(os.path.join(variants, d, "config.json")):
            sources["lm_" + d.split("_")[0]] = os.path.join("tests/data/lm-variants", d, "config.json")
    for name, rel in sources.items():
        with open(os.path.join(ROOT, rel), "rb") as f:
            text = f.read()
        write("config", name + ".json", text)
        # Compact form: more room for mutations under the default max_len.
        write("config", name + ".min.json", json.dumps(json.loads(text), separators=(",", ":")).encode())
    write("config", "absurd_dim.json", b'{"dim":1e9,"num_layers":2,"delays":[0,0,0,0,0,0,0,0,0]}')
    write("config", "wrong_types.json", b'{"dim":"64","num_layers":[2],"card":32.5}')


# --- sentencepiece -----------------------------------------------------------------------
def varint(v):
    out = b""
    while True:
        b = v & 0x7F
        v >>= 7
        out += bytes([b | (0x80 if v else 0)])
        if not v:
            return out


def vfield(n, v):
    return varint(n << 3) + varint(v)


def bfield(n, payload):
    return varint(n << 3 | 2) + varint(len(payload)) + payload


def ffield(n, x):
    return varint(n << 3 | 5) + struct.pack("<f", x)


def piece(text, score, kind):
    return bfield(1, bfield(1, text.encode()) + ffield(2, score) + vfield(3, kind))


def tiny_model(trainer, normalizer):
    return (piece("<unk>", 0, 2) + piece("<s>", 0, 3) + piece("</s>", 0, 3) + piece("\u2581a", -1, 1)
            + piece("a", -2, 1) + piece("\u2581", -3, 1) + piece("b", -2.5, 1) + bfield(2, trainer)
            + bfield(3, normalizer))


def make_sentencepiece():
    write("sentencepiece", "tiny_identity", tiny_model(vfield(3, 1), bfield(1, b"identity")))
    write("sentencepiece", "tiny_bpe", tiny_model(vfield(3, 2), bfield(1, b"identity")))
    # One charsmap rule "A" -> "a" (Darts double array; see tests/text/sentencepiece_test.cpp).
    units = [0] * 0x43
    units[0] = 1 << 10
    units[0x40] = 0x41 | (1 << 8) | (2 << 10)
    units[0x42] = 0x80000000
    trie = b"".join(struct.pack("<I", u) for u in units)
    charsmap = struct.pack("<I", len(trie)) + trie + b"a\0"
    write("sentencepiece", "tiny_charsmap", tiny_model(vfield(3, 1), bfield(2, charsmap)))
    if not shutil.which("spm_train"):
        print("spm_train not found: trained sentencepiece seeds skipped")
        return
    rnd = random.Random(1)
    words = ["the", "cat", "reads", "a", "book", "le", "chat", "lit", "un", "livre", "caf\u00e9", "\u00e9t\u00e9",
             "\u6771\u4eac", "\u5929\u6c17"]
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "c.txt")
        with open(corpus, "w", encoding="utf-8") as f:
            for _ in range(300):
                f.write(" ".join(rnd.choice(words) for _ in range(8)) + "\n")
        runs = {
            "spm_identity": ["--model_type=unigram", "--vocab_size=40", "--normalization_rule_name=identity"],
            "spm_bpe_bytes": ["--model_type=bpe", "--vocab_size=300", "--normalization_rule_name=identity",
                              "--byte_fallback=true"],
            "spm_nfkc": ["--model_type=unigram", "--vocab_size=40"],
        }
        for name, args in runs.items():
            prefix = os.path.join(tmp, name)
            subprocess.run(["spm_train", "--input=" + corpus, "--model_prefix=" + prefix, "--minloglevel=2",
                            "--num_threads=1", "--random_seed=1"] + args, check=True, capture_output=True)
            with open(prefix + ".model", "rb") as f:
                write("sentencepiece", name, f.read())


# --- session programs --------------------------------------------------------------------
def make_session():
    rnd = random.Random(9)
    write("session", "asr_valid", bytes([3] + sum([[0] + [224] + [i % 200, 5] * 8 for i in range(20)], [])))
    write("session", "duplex_valid", bytes([4] + sum([[1, 224] + [10, i] * 8 for i in range(16)], [])))
    write("session", "tts_text", bytes([5] + sum([[2, 0, 0, i * 7 % 256] for i in range(24)], [])))
    write("session", "mimi_nan", bytes([6, 4, 1, 80, 2, 100, 3, 0, 4, 0, 90, 5] + [0] * 16 + [4, 2, 70] + [0x7f] * 260))
    write("session", "mixed", bytes(rnd.randrange(256) for _ in range(400)))
    write("session", "wrong_lengths", bytes([1] + sum([[i % 8, 250 - i] + [201, 0xff] * 4 for i in range(30)], [])))


def make_bind_checks():
    max_safe = 2 ** 53 - 1
    records = {
        "threads_ok": (4.0, 1, 64, 1), "threads_fraction": (1.5, 1, 64, 1), "nan": (float("nan"), 1, 64, 1),
        "infinity": (float("inf"), 0, 2 ** 31 - 1, 1), "minus_infinity": (float("-inf"), 0, max_safe, 1),
        "seed_minus_one": (-1.0, 0, max_safe, 0), "seed_1e30": (1e30, 0, max_safe, 0),
        "two_pow_53": (2.0 ** 53, 0, max_safe, 0), "bad_bounds": (3.0, 10, 1, 0),
        "int32_edge": (2147483647.0, -2 ** 31, 2 ** 31 - 1, 2), "negative_zero": (-0.0, 0, 1, 3),
    }
    for name, (v, lo, hi, mode) in records.items():
        write("bind_checks", name, struct.pack("<dqqB", v, lo, hi, mode))


if __name__ == "__main__":
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    make_safetensors()
    make_configs()
    make_sentencepiece()
    make_session()
    make_bind_checks()
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    print("corpus: %d bytes" % total)
