"""Peak memory and speed of the upload analysis on a large CSV.

Generates a CSV (200 MB by default) in a temporary folder, analyses it in a child process
(the worker's situation: nothing else in memory), and prints the child's peak resident
memory (`ru_maxrss`) and the throughput. Exits 1 if the peak passes the target.

    just bench-analysis            # or: .venv/bin/python -m bench.analysis_memory --mb 200
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The issue's bound on the worker's peak memory while analysing, in MB.
TARGET_PEAK_MB = 150
MB = 1_000_000


def write_csv(path: Path, size_mb: float) -> int:
    """A realistic sample: mixed types, some gaps, some repeated rows; returns its bytes."""
    target = int(size_mb * MB)
    written = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("id,name,email,amount,signed_up,active,city,notes\n")
        row = 0
        while written < target:
            lines = []
            for _ in range(10_000):
                row += 1
                n = row - 1 if row % 50 == 0 else row  # every 50th row repeats the previous
                city = "" if n % 7 == 0 else ("Paris", "Lyon", "Berlin", "Oslo")[n % 4]
                lines.append(
                    f"{n},Customer {n},customer{n}@example.com,{n % 9973}.{n % 100:02d},"
                    f"2024-{n % 12 + 1:02d}-{n % 28 + 1:02d},{'true' if n % 3 else 'false'},"
                    f'{city},"Order #{n}, shipped"\n'
                )
            chunk = "".join(lines)
            out.write(chunk)
            written += len(chunk.encode())
    return path.stat().st_size


def child(path: str) -> None:
    """Analyse `path` and print the results' figures and the seconds it took, as JSON."""
    from storage.analysis import analyse

    started = time.perf_counter()
    with open(path, "rb") as stream:
        results = analyse(stream, filename=Path(path).name, max_bytes=10**12)
    elapsed = time.perf_counter() - started
    figures = {key: results[key] for key in ("row_count", "duplicate_share", "quality_score")}
    print(json.dumps({"seconds": elapsed, "summary": results["summary"], **figures}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=200.0, help="size of the CSV, in MB")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return 0
    with tempfile.TemporaryDirectory(prefix="leadsync-bench-") as folder:
        path = Path(folder) / "sample.csv"
        size = write_csv(path, args.mb)
        command = [sys.executable, "-m", "bench.analysis_memory", "--child", str(path)]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    report = json.loads(done.stdout)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_mb = usage.ru_maxrss * 1024 / MB  # ru_maxrss is in KiB on Linux
    cpu_s = usage.ru_utime + usage.ru_stime
    print(f"file:       {size / MB:.1f} MB CSV, {report['row_count']:,} rows")
    print(f"summary:    {report['summary']}")
    print(f"peak RSS:   {peak_mb:.1f} MB (target < {TARGET_PEAK_MB} MB)")
    print(f"throughput: {size / MB / report['seconds']:.1f} MB/s ({report['seconds']:.1f} s)")
    # Wall time counts other load on the machine; CPU time is the analysis' own cost.
    print(f"cpu:        {cpu_s:.1f} s of the child, {size / MB / cpu_s:.1f} MB per CPU second")
    return 0 if peak_mb < TARGET_PEAK_MB else 1


if __name__ == "__main__":
    sys.exit(main())
