"""``vpcflow convert IN OUT``: flow-log text (``.log``, ``.log.gz``) <-> Parquet (``.parquet``).

The kind of each file comes from its name: ``.parquet`` (including AWS's ``.log.parquet``) is
Parquet, anything else is text, gzip-compressed when it ends in ``.gz`` (gzip input is detected
by content). Text input may have the S3 header line (the format is read from it) or not (then
``--format`` gives it, default: the default format). Every value is preserved.

Files are streamed in pieces, so memory stays bounded whatever their size; the output is written
to a temporary name and renamed at the end, so a failed conversion leaves no partial file.
"""

from __future__ import annotations

import gzip
import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import click
import pyarrow as pa

from vpcflow.codecs.parquet import ParquetRecordWriter, iter_parquet, read_parquet_format
from vpcflow.codecs.text import header_line, render_text
from vpcflow.codecs.textfiles import iter_text_file
from vpcflow.core.errors import ConfigError
from vpcflow.core.userfiles import check_input_file, check_output_file
from vpcflow.model.logformat import LogFormat


def _is_parquet(path: Path) -> bool:
    return path.name.endswith(".parquet")


class _Counts:
    def __init__(self) -> None:
        self.rows = self.skipped = self.repaired = 0
        self.shown = 0


def _read(src: Path, log_format: str | None, lenient: bool, counts: _Counts) -> tuple[LogFormat, Iterator[pa.Table]]:
    """The input's format and an iterator over its record tables."""
    if _is_parquet(src):
        if lenient:
            raise ConfigError("--lenient applies to text input only")
        if log_format is not None:
            raise ConfigError("--format applies to text input only (a Parquet file names its columns)")
        return read_parquet_format(src), iter_parquet(src)
    reads = iter_text_file(src, log_format, lenient=lenient)
    first = next(reads)

    def tables() -> Iterator[pa.Table]:
        for read in itertools.chain([first], reads):
            counts.skipped += read.skipped
            counts.repaired += read.repaired
            for number, raw in read.skipped_lines:
                if counts.shown < 5:
                    click.echo(f"skipped {src}:{number}: {raw}", err=True)
                    counts.shown += 1
            yield read.table

    return first.log_format, tables()


@click.command("convert", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("src", metavar="IN", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("dst", metavar="OUT", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "log_format", metavar="FORMAT", default=None,
              help="LogFormat of a text input without a header line (default: the default format).")
@click.option("--lenient", is_flag=True,
              help="Repair doubled spaces and skip malformed lines instead of failing on the first one.")
@click.option("--no-header", is_flag=True, help="Write text output without the S3 header line.")
def command(src: Path, dst: Path, log_format: str | None, lenient: bool, no_header: bool) -> None:
    """Convert flow-log records between text (.log/.log.gz) and Parquet (.parquet)."""
    check_input_file(src, "input file")
    check_output_file(dst, "OUT")
    if dst.exists() and src.resolve() == dst.resolve():
        raise ConfigError(f"input and output are the same file: {src}")
    counts = _Counts()
    fmt, tables = _read(src, log_format, lenient, counts)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    try:
        if _is_parquet(dst):
            with ParquetRecordWriter(tmp, fmt) as writer:
                for table in tables:
                    writer.write(table)
                    counts.rows += table.num_rows
        else:
            with open(tmp, "wb") as raw:
                out = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if dst.name.endswith(".gz") else raw
                if not no_header:
                    out.write((header_line(fmt) + "\n").encode())
                for table in tables:
                    out.write(render_text(table, header=False))
                    counts.rows += table.num_rows
                if out is not raw:
                    out.close()
        tmp.replace(dst)
    finally:
        tmp.unlink(missing_ok=True)
    note = f", {counts.skipped} malformed lines skipped" if counts.skipped else ""
    note += f", {counts.repaired} lines repaired" if counts.repaired else ""
    click.echo(f"{counts.rows} records (format version {fmt.version}) -> {dst}{note}", err=True)
