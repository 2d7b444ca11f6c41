"""The training-image stores at CASIA-WebFace's real count, on this host's memory.

    python benchmarks/stores.py                       # a tree in /tmp, built, measured and removed (minutes)
    python benchmarks/stores.py --json benchmarks/stores-cpu.json

Builds a tree in CASIA-WebFace's exact layout (``CASIA-WebFace/0000045/001.jpg``: 10,575 folders of
7-digit ids, 494,414 images, 46 or 47 per folder) from a few thousand real JPEGs (250 x 250,
quality 90, random smooth content, written with PIL) by hard links, so the tree costs directory
entries only, then measures:

* building the tree, and listing it with the kit's reader (``ppcl.data.readers.load``);
* the encoded store of all 494,414 images at the input size (``ImageStore.from_records(...,
  kind="encoded")``): time, peak RSS above the RSS before it, bytes held; and a few batches of
  64 gathered from it (decoded and resized on this CPU), milliseconds per batch;
* the decoded store's size at the input size (projected, not built), and what ``kind="auto"``
  picks on this host;
* the decoded store of a subset (default 20,000 images): time, peak RSS over its final size; and
  beside it the path the kit had before (one ``(N, H, W, 3)`` array, then a permuted copy).

Every store is built in a fresh process (``--child``) that lists the tree with the reader, warms
up on two images, resets its RSS high-water mark (Linux ``/proc/self/clear_refs``) and reads it
back (``VmHWM``) after the build. All files are hard links to the same few thousand, so reads come
from the page cache: the real dataset's first read would also wait on the disk.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

IDS, IMAGES = 10_575, 494_414  # CASIA-WebFace's published counts


def reset_peak() -> None:
    """Forget the RSS high-water mark so far (Linux; elsewhere a no-op)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_rss() -> int:
    """This process's RSS high-water mark in bytes (``VmHWM``; ``ru_maxrss`` where /proc is absent)."""
    try:
        with open("/proc/self/status") as f:
            return next(int(ln.split()[1]) for ln in f if ln.startswith("VmHWM:")) * 1024
    except (OSError, StopIteration):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def write_sources(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """``n`` JPEGs of 250 x 250 at quality 90: a random 8 x 8 colour field upsampled (bicubic) plus
    Gaussian noise of sd 2, about the size of a face photo's JPEG (pure noise would be 60 kB each)."""
    from PIL import Image
    from tqdm.auto import tqdm

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in tqdm(range(n), desc="write JPEGs", leave=False):
        low = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).resize((250, 250), Image.BICUBIC)
        a = np.asarray(low, dtype=np.float32) + rng.normal(0, 2, (250, 250, 3))
        path = folder / f"{i:05d}.jpg"
        Image.fromarray(np.clip(a.round(), 0, 255).astype(np.uint8)).save(path, quality=90)
        out.append(path)
    return out


def per_folder(ids: int, images: int) -> list[int]:
    """Images per id folder: ``images`` spread as evenly as possible (46 or 47 for CASIA's counts).

    >>> per_folder(IDS, IMAGES).count(47), per_folder(IDS, IMAGES).count(46), sum(per_folder(IDS, IMAGES))
    (7964, 2611, 494414)
    """
    q, r = divmod(images, ids)
    return [q + 1] * r + [q] * (ids - r)


def build_tree(root: Path, sources: list[Path], seed: int = 0) -> Path:
    """``root/CASIA-WebFace/<7-digit id>/<NNN>.jpg``, each a hard link to one of ``sources`` in turn."""
    from tqdm.auto import tqdm

    folder = root / "CASIA-WebFace"
    ids = np.sort(np.random.default_rng(seed).choice(10**7, IDS, replace=False))
    k = 0
    for pid, count in zip(tqdm(ids, desc="link tree", leave=False), per_folder(IDS, IMAGES)):
        d = folder / f"{pid:07d}"
        d.mkdir(parents=True)
        for j in range(1, count + 1):
            os.link(sources[k % len(sources)], d / f"{j:03d}.jpg")
            k += 1
    return folder


def old_decode_all(records, size, threads):
    """The decoded store as the kit built it before: one ``(N, H, W, 3)`` array, then a permuted copy."""
    import torch

    from ppcl.data.stores import decode, run_threads

    out = np.empty((len(records), *size, 3), dtype=np.uint8)

    def one(i):
        out[i] = decode(records[i].path, size)

    run_threads(one, len(records), threads)
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def child(args) -> dict:
    """Build one store in this (fresh) process and report its cost."""
    import torch

    from ppcl.data.readers import load
    from ppcl.data.stores import ImageStore

    records = load("casia_webface", args.root).records
    if args.n:
        records = records[: args.n]
    size = (args.size, args.size)
    if args.child == "old":
        old_decode_all(records[:2], size, args.threads)
    else:
        ImageStore.from_records(records[:2], size, threads=args.threads, kind=args.child)
    reset_peak()
    before, t0 = rss(), time.perf_counter()
    if args.child == "old":
        store = old_decode_all(records, size, args.threads)
        nbytes = store.nbytes
    else:
        store = ImageStore.from_records(records, size, threads=args.threads, kind=args.child, progress=True)
        nbytes = store.nbytes
    out = {"images": len(records), "seconds": time.perf_counter() - t0, "peak_bytes": peak_rss() - before,
           "nbytes": nbytes, "type": type(store).__name__}
    if args.child == "encoded":
        out["file_bytes"] = int(store.data.nbytes)
        g = torch.Generator().manual_seed(0)
        times = []
        for _ in range(args.batches + 1):
            index = torch.randint(len(store), (64,), generator=g)
            t = time.perf_counter()
            store.gather(index, torch.device("cpu"))
            times.append(time.perf_counter() - t)
        out["gather_ms_per_64"] = 1000 * float(np.median(times[1:]))  # the first one warms up
    return out


def run_child(args, kind: str, n: int = 0) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, "--root", str(args.root), "--size", str(args.size),
           "--n", str(n), "--batches", str(args.batches)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with exit status {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=Path("/tmp/ppcl-casia-bench"), help="where the tree is built")
    ap.add_argument("--sources", type=int, default=3000, help="distinct JPEG files the tree links to")
    ap.add_argument("--size", type=int, default=224, help="the input size (paper profile: 224 x 224)")
    ap.add_argument("--subset", type=int, default=20_000, help="images of the decoded store actually built")
    ap.add_argument("--batches", type=int, default=10, help="batches of 64 gathered from the encoded store")
    ap.add_argument("--threads", type=int, default=0, help="decoding threads (0: the CPUs this process may use)")
    ap.add_argument("--keep", action="store_true", help="leave the tree in place")
    ap.add_argument("--skip-old", action="store_true", help="do not build the subset the old way")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--child", choices=("encoded", "decoded", "old"), help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.threads = args.threads or None
    if args.child:
        print(json.dumps(child(args)))
        return 0

    import psutil

    from ppcl.data.readers import PUBLISHED_COUNTS, load, observed_counts
    from ppcl.data.stores import HOST_SHARE, choose_kind, decoded_nbytes

    if args.root.exists():
        raise SystemExit(f"--root: expected a path that does not exist yet; found {args.root} "
                         "(remove it or pass another)")
    disk = shutil.disk_usage(args.root.parent)
    need = args.sources * 20_000 + IDS * 8192 + IMAGES * 64  # sources, one block per folder, directory entries
    print(f"disk at {args.root.parent}: {disk.free / 2**30:.1f} GiB free; the tree needs about {need / 2**20:.0f} MiB")
    if disk.free < 4 * need:
        raise SystemExit(f"--root: expected at least {4 * need / 2**30:.1f} GiB free at {args.root.parent}; "
                         f"found {disk.free / 2**30:.1f} GiB")
    res: dict = {"host": {"cpus": os.cpu_count(), "memory_bytes": psutil.virtual_memory().total,
                          "available_bytes": psutil.virtual_memory().available}, "size": args.size}
    try:
        t0 = time.perf_counter()
        sources = write_sources(args.root / "_sources", args.sources)
        t1 = time.perf_counter()
        build_tree(args.root, sources)
        t2 = time.perf_counter()
        data = load("casia_webface", args.root)
        t3 = time.perf_counter()
        counts = observed_counts(data)
        if counts["images"] != IMAGES or counts["ids"] != IDS:
            raise RuntimeError(f"the tree: expected {PUBLISHED_COUNTS['casia_webface']}; the reader found {counts}")
        src_bytes = [p.stat().st_size for p in sources]
        res["tree"] = {"sources": len(sources), "source_mean_bytes": float(np.mean(src_bytes)),
                       "write_sources_s": t1 - t0, "link_s": t2 - t1, "list_s": t3 - t2, "counts": counts}
        del data
        size = (args.size, args.size)
        res["decoded_projected_bytes"] = decoded_nbytes(IMAGES, size)
        res["auto_here"] = choose_kind(IMAGES, size)
        res["host_share"] = HOST_SHARE
        res["encoded"] = run_child(args, "encoded")
        res["decoded_subset"] = run_child(args, "decoded", args.subset)
        if not args.skip_old:
            res["old_subset"] = run_child(args, "old", args.subset)
    finally:
        if not args.keep:
            shutil.rmtree(args.root, ignore_errors=True)
    report(res)
    if args.json:
        from ppcl.io import write_json

        write_json(args.json, res)
    return 0


def report(res: dict) -> None:
    gib, mib = 2**30, 2**20
    t, e, d = res["tree"], res["encoded"], res["decoded_subset"]
    print(f"\nCASIA-WebFace layout: {t['counts']['ids']:,} folders, {t['counts']['images']:,} images "
          f"(hard links to {t['sources']:,} JPEGs of 250x250, {t['source_mean_bytes'] / 1024:.1f} kB on average)")
    print(f"  write the JPEGs {t['write_sources_s']:.1f} s, link the tree {t['link_s']:.1f} s, "
          f"list it with the reader {t['list_s']:.1f} s")
    print(f"  host: {res['host']['memory_bytes'] / gib:.1f} GiB, {res['host']['available_bytes'] / gib:.1f} GiB "
          f"available; kind='auto' at {res['size']}x{res['size']} picks '{res['auto_here']}' here "
          f"(decoded if at most {res['host_share']:.0%} of the available memory)\n")
    print(f"{'store':44s} {'images':>8s} {'seconds':>8s} {'held':>10s} {'peak RSS':>10s} {'peak/held':>9s}")
    rows = [("encoded (the files' bytes)", e), (f"decoded subset at {res['size']}x{res['size']}", d)]
    if "old_subset" in res:
        rows.append(("decoded subset, as before (array + copy)", res["old_subset"]))
    for name, r in rows:
        print(f"{name:44s} {r['images']:8,d} {r['seconds']:8.1f} {r['nbytes'] / mib:7,.0f} MiB "
              f"{r['peak_bytes'] / mib:6,.0f} MiB {r['peak_bytes'] / r['nbytes']:9.2f}")
    print(f"{'decoded, all (projected, not built)':44s} {t['counts']['images']:8,d} {'':>8s} "
          f"{res['decoded_projected_bytes'] / mib:7,.0f} MiB  ({res['decoded_projected_bytes'] / gib:.1f} GiB)")
    print(f"\nencoded store: a batch of 64 gathered (decoded by PIL, resized by torch on this CPU): "
          f"{e['gather_ms_per_64']:.1f} ms (median of the timed batches)")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
