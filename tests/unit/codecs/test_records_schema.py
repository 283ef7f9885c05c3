"""Record tables: schema from the catalogue, builders from numpy columns, conform, TGW formats."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from vpcflow.codecs.parquet import parquet_bytes, read_parquet
from vpcflow.codecs.records import arrow_schema, conform, empty_table, log_format_of, null_counts, record_table
from vpcflow.codecs.text import decode_text, render_lines, render_text
from vpcflow.core.api_errors import InvalidParameterError
from vpcflow.model.fields import FIELDS, TGW_DEFAULT_FIELDS, VPC_FIELDS, ValueType
from vpcflow.model.logformat import parse_any_log_format, parse_log_format

_TYPES = {ValueType.INT32: pa.int32(), ValueType.INT64: pa.int64(), ValueType.STRING: pa.string()}


def test_schema_of_every_field() -> None:
    names = [f.name for f in VPC_FIELDS]
    schema = arrow_schema(names)
    assert schema.names == [f.column for f in VPC_FIELDS]
    for f, field in zip(VPC_FIELDS, schema, strict=True):
        assert field.type == _TYPES[f.value_type] and field.nullable
    assert arrow_schema([f.column for f in VPC_FIELDS]) == schema  # either spelling
    assert arrow_schema(parse_log_format(None)).names[-1] == "log_status"
    with pytest.raises(KeyError):
        arrow_schema(["nope"])


def test_record_table_builders() -> None:
    t = record_table(["version", "srcport", "account-id", "packets"],
                     {"version": 5, "srcport": np.ma.MaskedArray([1, 2], mask=[False, True]),
                      "account_id": np.array([123, 456]), "packets": pa.chunked_array([[1], [2]])})
    assert t.to_pylist() == [
        {"version": 5, "srcport": 1, "account_id": "123", "packets": 1},
        {"version": 5, "srcport": None, "account_id": "456", "packets": 2},
    ]
    assert null_counts(t) == {"version": 0, "srcport": 1, "account_id": 0, "packets": 0}
    with pytest.raises(KeyError, match="not in the format"):
        record_table(["version"], {"version": [2], "bytes": [1]})
    with pytest.raises(ValueError, match="rows"):
        record_table(["version", "bytes"], {"version": [2], "bytes": [1, 2]})
    with pytest.raises(ValueError, match="length"):
        record_table(["version"], {"version": 2})
    assert record_table(["version"], {}, length=3).column("version").null_count == 3


def test_conform_and_format_of() -> None:
    t = pa.table({"log_status": ["OK"], "version": pa.array([2], pa.int64())})
    c = conform(t, ["version", "log-status"])
    assert c.schema == arrow_schema(["version", "log-status"])
    assert log_format_of(c).text == "${version} ${log-status}"
    with pytest.raises(KeyError):
        conform(t, ["version", "bytes"])
    assert empty_table(["bytes"]).num_rows == 0


def test_transit_gateway_records_round_trip() -> None:
    fmt = parse_any_log_format(" ".join("${" + n + "}" for n in TGW_DEFAULT_FIELDS))
    assert fmt.transit_gateway and fmt.version == 6
    cols = {n: ([7] if FIELDS[n].value_type is not ValueType.STRING else ["x-" + n]) for n in TGW_DEFAULT_FIELDS}
    cols["log-status"] = ["OK"]
    cols["type"] = ["IPv4"]
    cols["flow-direction"] = ["ingress"]
    table = record_table(fmt, cols)
    text = render_text(table)
    read = decode_text(text)
    assert read.log_format == fmt
    assert read.table.equals(table)
    assert decode_text(render_text(table, header=False), fmt.text).table.equals(table)
    assert render_text(read_parquet(parquet_bytes(table))) == text
    with pytest.raises(InvalidParameterError):
        parse_log_format(fmt.text)  # not a VPC flow log format


def test_every_vpc_field_at_once_round_trips() -> None:
    names = [f.name for f in VPC_FIELDS]
    cols = {}
    for f in VPC_FIELDS:
        if f.values:
            cols[f.name] = [f.values[0], None]
        elif f.value_type is ValueType.STRING:
            cols[f.name] = [f"v-{f.name}", None]
        else:
            cols[f.name] = [f.max_value, None if f.name != "version" else 11]
    table = record_table(names, cols)
    text = render_text(table)
    assert decode_text(text).table.equals(table)
    assert render_lines(read_parquet(parquet_bytes(table))).to_pylist() == text.decode().splitlines()[1:]
