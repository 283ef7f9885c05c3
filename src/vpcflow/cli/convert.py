"""``vpcflow convert IN OUT``: flow-log text (``.log``, ``.log.gz``) <-> Parquet (``.parquet``).

The kind of each file comes from its name: ``.parquet`` (including AWS's ``.log.parquet``) is
Parquet, anything else is text, gzip-compressed when it ends in ``.gz`` (gzip input is detected
by content). Text input may have the S3 header line (the format is read from it) or not (then
``--format`` gives it, default: the default format). Every value is preserved.
"""

from __future__ import annotations

from pathlib import Path

import click

from vpcflow.codecs.parquet import read_parquet, write_parquet
from vpcflow.codecs.records import log_format_of
from vpcflow.codecs.text import read_text_file, write_text_file
from vpcflow.core.errors import ConfigError


def _is_parquet(path: Path) -> bool:
    return path.name.endswith(".parquet")


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
    if not src.is_file():
        raise ConfigError(f"input file {src} does not exist")
    if src.resolve() == dst.resolve():
        raise ConfigError(f"input and output are the same file: {src}")
    skipped = repaired = 0
    if _is_parquet(src):
        if lenient:
            raise ConfigError("--lenient applies to text input only")
        table = read_parquet(src)
        fmt = log_format_of(table)
        if log_format is not None:
            raise ConfigError("--format applies to text input only (a Parquet file names its columns)")
    else:
        read = read_text_file(src, log_format, lenient=lenient)
        table, fmt = read.table, read.log_format
        skipped, repaired = read.skipped, read.repaired
        for number, raw in read.skipped_lines[:5]:
            click.echo(f"skipped {src}:{number}: {raw}", err=True)
    if _is_parquet(dst):
        write_parquet(table, dst, log_format=fmt)
    else:
        write_text_file(dst, table, header=not no_header)
    note = f", {skipped} malformed lines skipped" if skipped else ""
    note += f", {repaired} lines repaired" if repaired else ""
    click.echo(f"{table.num_rows} records (format version {fmt.version}) -> {dst}{note}", err=True)
