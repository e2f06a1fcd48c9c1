"""The MIND conversion at MIND's published sizes: wall time and peak memory.

    python bench/mind_convert.py [--shape small|large] [--scale 1.0] [--seed 0]
        [--mirror DIR] [--json]

Generates MIND-format zips with `bench/mind_shapes.py` into a temporary mirror, then runs
``condbench data fetch mind-small`` (``mind`` for --shape large) on it with an empty
temporary cache in a child process, as a user would: the copy from the mirror, the
conversion, the validation, the Parquet write and the read back. Prints the child's wall
time and peak resident memory (``getrusage(RUSAGE_CHILDREN).ru_maxrss``), the generation
time (not part of the figure) and the converted row counts. `--mirror`: convert the zips
already in DIR (``mind/MIND{small,large}_{train,dev}.zip``, e.g. written by
`bench/mind_shapes.py`) instead of generating them.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
import pyarrow.parquet as pq
from mind_shapes import SHAPES, generate
from train_speed import machine

REPO = Path(__file__).resolve().parents[1]
SOURCE_OF = {"small": "mind-small", "large": "mind"}


def convert_in_child(source: str, mirror: Path, cache: Path) -> dict:
    """Run ``condbench data fetch`` in a child process; its wall seconds and peak RSS."""
    command = [sys.executable, "-m", "harness.cli", "data", "fetch", source,
               "--mirror", str(mirror), "--cache", str(cache)]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise click.ClickException(f"conversion failed ({done.returncode}): {done.stderr[-2000:]}")
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"wall_s": round(wall, 1), "peak_rss_mib": round(peak_kib / 1024)}


def converted_rows(folder: Path) -> dict:
    return {
        table: pq.ParquetFile(folder / f"{table}.parquet").metadata.num_rows
        for table in ("items", "histories", "interactions")
    }


@click.command()
@click.option("--shape", type=click.Choice(sorted(SHAPES)), default="small", show_default=True)
@click.option(
    "--scale", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--mirror", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Convert the zips in this mirror instead of generating them.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def main(shape: str, scale: float, seed: int, mirror: Path | None, as_json: bool) -> None:
    source = SOURCE_OF[shape]
    with tempfile.TemporaryDirectory(prefix="condbench-mind-") as tmp:
        generated = {"mirror": str(mirror)}
        if mirror is None:
            mirror = Path(tmp) / "mirror"
            started = time.perf_counter()
            generated = generate(mirror, shape, scale, seed)
            generated["seconds"] = round(time.perf_counter() - started, 1)
        cache = Path(tmp) / "cache"
        measured = convert_in_child(source, mirror, cache)
        rows = converted_rows(cache / "datasets" / source / "1" / "original")
    report = {"machine": machine(), "source": source, "generated": generated,
              "conversion": measured, "rows": rows}  # fmt: skip
    if as_json:
        sys.stdout.write(json.dumps(report) + "\n")
        return
    click.echo(
        f"{source} at {shape} x {scale} ({generated.get('seconds', '-')} s to generate): "
        f"conversion {measured['wall_s']} s wall, peak RSS {measured['peak_rss_mib']:,} MiB; "
        f"items {rows['items']:,}, histories {rows['histories']:,}, "
        f"interactions {rows['interactions']:,}; load average {machine()['load_average_1min']:.2f}"
    )


if __name__ == "__main__":
    main()
