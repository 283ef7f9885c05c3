"""Flow records as text lines, exactly as AWS writes them, and back (spec 1.1, 1.7, 3, 4).

Rendering: one line per record, values in format order separated by single spaces, ``-`` for a
null, integers in plain decimal. S3 plain-text files start with a header line of the field names
(spec 1.7); CloudWatch Logs messages are the bare lines (no header, no newline). The native core
writes the lines from the Arrow columns' buffers (native/src/render): no Python object per record.

Parsing: a fast path reads the lines with Arrow's CSV reader (space delimiter, no quoting, ``-``
null) and validates whole columns. When anything is wrong it falls back to a second, still
columnar, pass (split every line on spaces) that finds exactly which lines are malformed:

* strict mode (default) raises ``ReadError(source, line_number, raw)`` for the first bad line;
* lenient mode repairs runs of spaces (leading, trailing, doubled: the AWS doc's sample of spec
  7.5 has a doubled space) and reads the line if it is then valid, and counts and skips the rest.

What "valid" means (docs/formats.md, "Validation"): the right number of values; ``-`` or, for an
integer field, canonical decimal (no sign, no leading zeros) within the field's range (ports
0-65535, protocol 0-255, counts and times 0..2^63-1, ``version`` >= 2); for a string field a
non-empty value, and for ``action``, ``log-status``, ``type`` and ``flow-direction`` one of AWS's
values. Line endings are ``\\n``; a ``\\r\\n`` ending is accepted and dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from vpcflow.codecs.native_columns import record_columns
from vpcflow.codecs.records import arrow_schema
from vpcflow.core.api_errors import InvalidParameterError
from vpcflow.core.errors import ReadError
from vpcflow.model.fields import FIELDS, Field, ValueType, to_field_name
from vpcflow.model.logformat import (
    LogFormat,
    log_format_from_header,
    looks_like_header,
    parse_any_log_format,
    parse_log_format,
)

NULL = "-"
_INT_RE = r"^(0|[1-9][0-9]{0,18})$"
_INT64_MAX = "9223372036854775807"
_INT_PY = re.compile(_INT_RE)
_MAX_SKIPPED_KEPT = 100
_RENDER_SLICE = 1 << 18
Bool = npt.NDArray[np.bool_]


# ----------------------------------------------------------------------------------------- rendering


def header_line(names: LogFormat | list[str] | tuple[str, ...]) -> str:
    """The S3 header line (hyphenated field names, single spaces, no newline), spec 1.7."""
    fields = names.fields if isinstance(names, LogFormat) else tuple(to_field_name(n) for n in names)
    return " ".join(fields)


def _check_columns(table: pa.Table | pa.RecordBatch) -> None:
    if table.num_columns == 0:
        raise ValueError("a record table needs at least one column")


def _render(table: pa.Table | pa.RecordBatch, prefix: bytes = b"") -> bytes:
    """The ``\n``-terminated lines of ``table`` after ``prefix``, rendered by the native core
    (native/src/render) straight from the columns' buffers, the GIL released meanwhile.

    It refuses an empty string (it would read back as a doubled space) and a value holding a space,
    a double quote, ``\n`` or ``\r`` (it would corrupt the line; AWS percent-encodes such text) with
    a ``ValueError`` naming the column, and a column of another type than integer or string (or a
    dictionary of those) with a ``TypeError``.
    """
    _check_columns(table)
    cols = record_columns(table)
    n = table.num_rows
    # Slices bound the memory to about twice the text (the slices, then their join), as one call
    # would too (its buffer, then the bytes object) but for a header prefix's third copy.
    return b"".join([prefix, *(cols.text(a, min(a + _RENDER_SLICE, n)) for a in range(0, n, _RENDER_SLICE))])


def render_lines(table: pa.Table | pa.RecordBatch) -> pa.StringArray:
    """One string per record (no newline), exactly as AWS writes it (spec 1.1).

    Also the CloudWatch Logs message of each record (spec 3: no header).
    """
    _check_columns(table)
    text, ends = record_columns(table).lines(0, table.num_rows)
    offsets = np.concatenate(([0], ends))
    if len(text) < 2**31:
        out = pa.StringArray.from_buffers(len(ends), pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(text))
    else:  # more than 2 GiB of text: only large_string offsets reach it, then string chunks
        big = pa.LargeStringArray.from_buffers(len(ends), pa.py_buffer(offsets), pa.py_buffer(text))
        out = big.cast(pa.string())
    assert isinstance(out, pa.StringArray)
    return out


def render_messages(table: pa.Table | pa.RecordBatch) -> list[str]:
    """CloudWatch Logs messages: the record lines, without header or newline (spec 1.7, 3)."""
    return render_lines(table).to_pylist()  # type: ignore[no-any-return]


def render_text(table: pa.Table | pa.RecordBatch, *, header: bool = True) -> bytes:
    """The text of a log file: the header line (when ``header``, as in S3 plain-text files) and one
    ``\n``-terminated line per record. UTF-8 bytes, not compressed."""
    prefix = (header_line(list(table.column_names)) + "\n").encode() if header else b""
    return _render(table, prefix)


def render_text_chunks(table: pa.Table | pa.RecordBatch, *, header: bool = True,
                       slice_rows: int = _RENDER_SLICE,
                       rows: npt.NDArray[np.int64] | npt.NDArray[np.uint32] | None = None) -> Iterator[bytes]:
    """``render_text`` ``slice_rows`` records at a time (their concatenation is ``render_text``'s bytes),
    so a consumer that compresses or writes as it goes never holds the whole text.

    With ``rows`` (row indexes of ``table``), those rows in that order: a sorted selection renders
    from the table as it is held, nothing gathered."""
    _check_columns(table)
    if header:
        yield (header_line(list(table.column_names)) + "\n").encode()
    cols = record_columns(table)
    if rows is not None and rows.dtype != np.uint32:  # 32-bit: a canonical order, read as it is
        rows = np.ascontiguousarray(rows, dtype=np.int64)
    count = table.num_rows if rows is None else len(rows)
    for start in range(0, count, slice_rows):
        yield cols.text(start, min(start + slice_rows, count), rows)


# ------------------------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class TextRead:
    """The result of reading flow-log text.

    ``table``: the records (Arrow, typed, null = ``-``); ``log_format``: the format used (from the
    header line when there is one); ``header``: whether a header line was present; ``skipped``:
    malformed lines skipped (lenient mode); ``repaired``: lines read after collapsing spaces
    (lenient mode); ``skipped_lines``: the first 100 skipped lines as (line number, raw text).
    """

    table: pa.Table
    log_format: LogFormat
    header: bool
    skipped: int = 0
    repaired: int = 0
    skipped_lines: tuple[tuple[int, str], ...] = ()


class _Invalid(Exception):
    """The fast path found something wrong; the slow path will say where."""


def _convert(col: pa.Array | pa.ChunkedArray, f: Field) -> tuple[pa.Array | pa.ChunkedArray, Bool]:
    """Validate one column of strings (nulls = ``-``) and convert it to the field's type.

    Returns the typed array (bad values null) and a per-row "bad" mask.
    """
    if f.value_type is ValueType.STRING:
        bad = pc.equal(col, "")
        if f.values:
            bad = pc.or_(bad, pc.invert(pc.is_in(col, value_set=pa.array(f.values))))
        mask = np.asarray(pc.fill_null(bad, False).to_numpy(zero_copy_only=False), dtype=bool)
        return col, mask
    ok = pc.match_substring_regex(col, _INT_RE)
    # 19-digit strings can exceed int64: equal lengths compare lexicographically as numbers do.
    too_big = pc.and_(pc.equal(pc.utf8_length(col), 19), pc.greater(col, _INT64_MAX))
    ok = pc.and_(ok, pc.invert(too_big))
    ok_np = np.asarray(pc.fill_null(ok, True).to_numpy(zero_copy_only=False), dtype=bool)
    clean = pc.if_else(ok, col, pa.scalar(None, pa.string())) if not ok_np.all() else col
    out, bad = _checked_ints(clean.cast(pa.int64()), f)
    return out, bad | ~ok_np


def _checked_ints(ints: pa.Array | pa.ChunkedArray, f: Field) -> tuple[pa.Array, Bool]:
    """Range-check an int64 column (null = ``-``) and cast it to the field's type; bad values null."""
    vals = ints.fill_null(0).to_numpy(zero_copy_only=False)
    null = np.asarray(ints.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    bad = np.zeros(len(vals), dtype=bool)
    if f.min_value is not None:
        bad |= ~null & (vals < f.min_value)
    if f.max_value is not None:
        bad |= ~null & (vals > f.max_value)
    mask = null | bad
    if f.value_type is ValueType.INT32:
        return pa.array(np.where(mask, 0, vals).astype(np.int32), mask=mask), bad
    return pa.array(vals, mask=mask, type=pa.int64()), bad


def _typed_table(string_cols: list[pa.Array | pa.ChunkedArray], fmt: LogFormat) -> tuple[pa.Table, Bool]:
    arrays: list[pa.Array | pa.ChunkedArray] = []
    bad = np.zeros(len(string_cols[0]) if string_cols else 0, dtype=bool)
    for col, name in zip(string_cols, fmt.fields, strict=True):
        arr, b = _convert(col, FIELDS[name])
        arrays.append(arr)
        bad |= b
    return pa.Table.from_arrays(arrays, schema=arrow_schema(fmt)), bad


_POW10 = np.array([10**k for k in range(1, 19)], dtype=np.int64)


def _digits(values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Decimal digit count of non-negative int64 values (0 has one digit)."""
    return np.searchsorted(_POW10, values, side="right").astype(np.int64) + 1


def _fast_parse(body: pa.Buffer, fmt: LogFormat) -> pa.Table:
    """Arrow CSV read of a well-formed body; raises ``_Invalid`` on anything suspicious.

    Integers are parsed by the CSV reader itself. Its parser also takes forms AWS never writes
    (``+5``, ``007``); those are caught without looking at the text again: every line must be
    exactly as long as its canonical rendering (value lengths + single spaces), and any such
    form is longer. Anything off goes to the slow path, which says which line and why.
    """
    types = {c: arrow_type_for_parse(n) for c, n in zip(fmt.columns, fmt.fields, strict=True)}
    try:
        raw = pacsv.read_csv(
            pa.BufferReader(body),
            read_options=pacsv.ReadOptions(column_names=list(fmt.columns), block_size=1 << 22),
            parse_options=pacsv.ParseOptions(
                delimiter=" ", quote_char=False, double_quote=False, escape_char=False,
                newlines_in_values=False, ignore_empty_lines=False,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=types, null_values=[NULL], strings_can_be_null=True, quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, UnicodeDecodeError) as e:
        raise _Invalid(str(e)) from e
    data = np.frombuffer(body, dtype=np.uint8)
    newlines = np.flatnonzero(data == 10)
    ends = newlines if data[-1] == 10 else np.append(newlines, len(data))
    if len(ends) != raw.num_rows:
        raise _Invalid("line count")
    starts = np.concatenate(([0], newlines + 1))[: len(ends)]
    expected = np.full(raw.num_rows, len(fmt.fields) - 1, dtype=np.int64)
    arrays: list[pa.Array | pa.ChunkedArray] = []
    for i, name in enumerate(fmt.fields):
        f = FIELDS[name]
        col = raw.column(i)  # chunked columns stay chunked: combining would copy every string again
        if f.value_type is ValueType.STRING:
            arr, bad = _convert(col, f)
            length = pc.fill_null(pc.binary_length(col), 1).to_numpy(zero_copy_only=False)
        else:
            arr, bad = _checked_ints(col, f)
            vals = col.fill_null(0).to_numpy(zero_copy_only=False)
            null = np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
            if (vals < 0).any():
                raise _Invalid("negative")
            length = np.where(null, 1, _digits(vals))
        if bad.any():
            raise _Invalid("bad values")
        expected += length
        arrays.append(arr)
    if not np.array_equal(expected, ends - starts):
        raise _Invalid("non-canonical text")
    return pa.Table.from_arrays(arrays, schema=arrow_schema(fmt))


def arrow_type_for_parse(name: str) -> pa.DataType:
    """The type the CSV reader parses a field as: int64 for every integer field, else string."""
    return pa.string() if FIELDS[name].value_type is ValueType.STRING else pa.int64()


def _split_lines(body: bytes) -> tuple[pa.StringArray, Bool]:
    """Every line of ``body`` (without ``\\n`` / ``\\r\\n``) and a mask of lines that cannot be records
    (not UTF-8, or a carriage return inside)."""
    text = body.decode("utf-8", errors="replace")
    not_utf8 = "\ufffd" in text and "\ufffd".encode() not in body
    if text.endswith("\n"):
        text = text[:-1]
    lines = pc.list_flatten(pc.split_pattern(pa.array([text]), "\n"))
    lines = pc.replace_substring_regex(lines, r"\r$", "")
    # A carriage return inside a line is not a line end: no value may hold one (render refuses it).
    bad = np.asarray(pc.match_substring(lines, "\r").to_numpy(zero_copy_only=False), dtype=bool)
    if not_utf8:
        bad |= np.asarray(pc.match_substring(lines, "\ufffd").to_numpy(zero_copy_only=False), dtype=bool)
    return lines, bad


def _split_validate(lines: pa.Array, fmt: LogFormat) -> tuple[pa.Table, Bool]:
    """Columnar validation of lines: the table of the good lines and a per-line "bad" mask."""
    ncols = len(fmt.fields)
    tokens = pc.split_pattern(lines, " ")
    count_ok = pc.list_value_length(tokens).to_numpy(zero_copy_only=False) == ncols
    good_idx = np.flatnonzero(count_ok)
    flat = pc.list_flatten(tokens.filter(pa.array(count_ok)))
    base = np.arange(len(good_idx), dtype=np.int64) * ncols
    cols = []
    for j in range(ncols):
        c = flat.take(pa.array(base + j))
        cols.append(pc.if_else(pc.equal(c, NULL), pa.scalar(None, pa.string()), c))
    if ncols:
        table, bad_rows = _typed_table(cols, fmt)
    else:  # pragma: no cover - a LogFormat has at least one field
        table, bad_rows = arrow_schema(fmt).empty_table(), np.zeros(0, dtype=bool)
    bad = ~count_ok
    bad[good_idx[bad_rows]] = True
    return table.filter(pa.array(~bad_rows)), bad


def explain_line(raw: str, fmt: LogFormat) -> str:
    """Why one line is not a valid record of ``fmt`` ("" when it is valid)."""
    tokens = raw.split(" ")
    if len(tokens) != len(fmt.fields):
        return f"expected {len(fmt.fields)} space-separated values, found {len(tokens)}"
    for name, tok in zip(fmt.fields, tokens, strict=True):
        f = FIELDS[name]
        if tok == NULL:
            continue
        if f.value_type is ValueType.STRING:
            if tok == "":
                return f"{name}: empty value (doubled space?)"
            if "\ufffd" in tok:
                return f"{name}: not UTF-8"
            if "\r" in tok:
                return f"{name}: carriage return inside a value"
            if f.values and tok not in f.values:
                return f"{name}: {tok!r} is not one of {', '.join(f.values)}"
            continue
        if not _INT_PY.match(tok):
            return f"{name}: {tok!r} is not an unsigned decimal integer"
        v = int(tok)
        lo = f.min_value if f.min_value is not None else 0
        hi = f.max_value if f.max_value is not None else 2**63 - 1
        if not lo <= v <= hi:
            return f"{name}: {v} is outside {lo}..{hi}"
    return ""


def _resolve_format(first_line: str, log_format: LogFormat | str | None, source: str) -> tuple[LogFormat, bool]:
    """The format and whether ``first_line`` is a header line."""
    first = first_line.rstrip("\r")
    if log_format is not None:
        fmt = log_format if isinstance(log_format, LogFormat) else parse_any_log_format(log_format)
        if first == fmt.header:
            return fmt, True
        # A line of field names that is also a valid record of the given format (a string field
        # whose value happens to be a field name, e.g. `tgw-src-eni` as an interface id) is a record.
        if looks_like_header(first) and explain_line(first, fmt):
            raise ReadError(f"header line does not match the format {fmt.text!r}", source=source, line_number=1,
                            raw=first_line)
        return fmt, False
    if looks_like_header(first):
        try:
            return log_format_from_header(first), True
        except InvalidParameterError as e:
            raise ReadError(f"invalid header line ({e.message})", source=source, line_number=1, raw=first_line) from e
    return parse_log_format(None), False


def decode_text(
    data: bytes | str,
    log_format: LogFormat | str | None = None,
    *,
    source: str = "<text>",
    lenient: bool = False,
    header: bool | None = None,
    line_offset: int = 0,
) -> TextRead:
    """Parse flow-log text (with or without the S3 header line) into a typed record table.

    ``log_format``: the LogFormat (object or string) of the records; when omitted it is read from
    the header line, or is the default format when there is no header. When given and the text has
    a header, the header must match it. Strict mode raises ``ReadError`` with the 1-based line
    number (counting the header) and raw text of the first malformed line; lenient mode repairs
    runs of spaces and counts and skips lines that stay malformed.
    ``header``: None detects a header line, False says there is none (a later piece of a file).
    ``line_offset``: lines of the source before ``data`` (for line numbers in errors).
    """
    raw_bytes = data.encode() if isinstance(data, str) else data
    nl = raw_bytes.find(b"\n")
    first = bytes(raw_bytes if nl < 0 else raw_bytes[:nl]).decode("utf-8", errors="replace")
    if raw_bytes and header is not False:
        fmt, has_header = _resolve_format(first, log_format, source)
    else:
        fmt = log_format if isinstance(log_format, LogFormat) else parse_any_log_format(log_format)
        has_header = False
    body = pa.py_buffer(raw_bytes)  # zero-copy; slices of it too
    if has_header:
        body = body.slice(len(body)) if nl < 0 else body.slice(nl + 1)
    first_number = line_offset + (2 if has_header else 1)
    if body.size == 0:
        return TextRead(arrow_schema(fmt).empty_table(), fmt, has_header)
    try:
        return TextRead(_fast_parse(body, fmt), fmt, has_header)
    except _Invalid:
        pass
    lines, not_utf8 = _split_lines(body.to_pybytes())
    table, bad = _split_validate(lines, fmt)
    bad |= not_utf8
    if not bad.any():  # only reachable when the CSV reader was stricter than the line scan
        return TextRead(table, fmt, has_header)
    if not lenient:
        i = int(np.flatnonzero(bad)[0])
        raw = lines[i].as_py()
        why = explain_line(raw, fmt) or "malformed record"
        raise ReadError(why, source=source, line_number=first_number + i, raw=raw)
    # Lenient: collapse runs of spaces and trim, then validate again (spec 7.5's doubled space).
    fixed = pc.utf8_trim(pc.replace_substring_regex(lines, " {2,}", " "), " ")
    repaired_lines = pc.if_else(pa.array(bad), fixed, lines)
    table, bad2 = _split_validate(repaired_lines, fmt)
    if not_utf8.any():
        # Rows the line scan accepted but whose bytes were not UTF-8: drop them from the table too.
        table = table.filter(pa.array(~not_utf8[~bad2]))
        bad2 |= not_utf8
    skipped_idx = np.flatnonzero(bad2)
    kept = tuple((first_number + int(i), lines[int(i)].as_py()) for i in skipped_idx[:_MAX_SKIPPED_KEPT])
    return TextRead(
        table, fmt, has_header, skipped=len(skipped_idx), repaired=int((bad & ~bad2).sum()), skipped_lines=kept
    )


def decode_lines(lines: pa.Array | pa.ChunkedArray, log_format: LogFormat | str | None = None) -> tuple[pa.Table, Bool]:
    """Parse one record per element of ``lines`` (e.g. CloudWatch messages) without losing alignment.

    Returns the typed table with exactly one row per line (all-null rows for lines that are not
    valid records of the format) and the mask of valid lines. A line holding a newline is invalid.
    The fast path reads all lines at once; when any is invalid, the columnar line scan says which.
    """
    fmt = log_format if isinstance(log_format, LogFormat) else parse_any_log_format(log_format)
    arr = lines.combine_chunks() if isinstance(lines, pa.ChunkedArray) else lines
    arr = pc.fill_null(arr.cast(pa.large_string()), "\n")  # a null line is as invalid as a multi-line one
    n = len(arr)
    if n == 0:
        return arrow_schema(fmt).empty_table(), np.zeros(0, dtype=bool)
    has_nl = np.asarray(pc.match_substring(arr, "\n").to_numpy(zero_copy_only=False), dtype=bool)
    if not has_nl.any():
        joined = pc.binary_join_element_wise(arr, pa.scalar("", pa.large_string()), pa.scalar("\n", pa.large_string()))
        offsets = np.frombuffer(joined.buffers()[1], dtype=np.int64)
        lo, hi = int(offsets[joined.offset]), int(offsets[joined.offset + n])
        body = joined.buffers()[2].slice(lo, hi - lo)  # every line and its newline, zero-copy
        try:
            return _fast_parse(body, fmt), np.ones(n, dtype=bool)
        except (_Invalid, ValueError):
            pass
    table, bad = _split_validate(arr.cast(pa.string()), fmt)
    ok = ~(bad | has_nl)
    good_rows = np.flatnonzero(~bad)  # rows of ``table``, in line order
    position = np.full(n, -1, dtype=np.int64)
    position[good_rows] = np.arange(len(good_rows))
    take = pa.array(position, mask=~ok)
    return table.take(take), ok


def parse_text(
    data: bytes | str,
    log_format: LogFormat | str | None = None,
    *,
    source: str = "<text>",
    lenient: bool = False,
) -> pa.Table:
    """``decode_text(...).table``: the records of flow-log text as a typed Arrow table."""
    return decode_text(data, log_format, source=source, lenient=lenient).table


__all__ = [
    "TextRead",
    "decode_lines",
    "decode_text",
    "explain_line",
    "header_line",
    "parse_text",
    "render_lines",
    "render_messages",
    "render_text",
    "render_text_chunks",
]
