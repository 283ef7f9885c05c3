"""Every golden record line of spec section 7 parses and re-renders byte-identically in its format.

The lines are copied verbatim from ``aws-vpc-flow-logs.md`` section 7 (AWS documentation samples).
Spec 7.5's second short-connection line has the doc's doubled space: strict reading rejects it,
lenient reading repairs it and renders it with one space. Spec 7.6's ``#...`` annotations are doc
text, not record data: they are cut before reading (and a line that keeps one is malformed).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from vpcflow.codecs.parquet import parquet_bytes, read_parquet
from vpcflow.codecs.text import decode_text, header_line, render_lines, render_text
from vpcflow.core.errors import ReadError
from vpcflow.model.logformat import parse_log_format


def fmt_of(names: str) -> str:
    return " ".join("${" + n + "}" for n in names.split())


DEFAULT = None
F_7_5 = fmt_of("version vpc-id subnet-id instance-id interface-id account-id type srcaddr dstaddr srcport dstport "
               "pkt-srcaddr pkt-dstaddr protocol bytes packets start end action tcp-flags log-status")
F_7_6 = fmt_of("instance-id interface-id srcaddr dstaddr pkt-srcaddr pkt-dstaddr")
F_7_7 = fmt_of("version interface-id account-id vpc-id subnet-id instance-id srcaddr dstaddr srcport dstport protocol "
               "tcp-flags type pkt-srcaddr pkt-dstaddr action log-status")
F_7_8 = fmt_of("version srcaddr dstaddr srcport dstport protocol start end type packets bytes account-id vpc-id "
               "subnet-id instance-id interface-id region az-id sublocation-type sublocation-id action tcp-flags "
               "pkt-srcaddr pkt-dstaddr pkt-src-aws-service pkt-dst-aws-service traffic-path flow-direction log-status")

GOLDEN: dict[str, tuple[str | None, list[str]]] = {
    "7.1": (DEFAULT, [
        "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
        "2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530010 1418530070 REJECT OK",
    ]),
    "7.2": (DEFAULT, [
        "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA",
        "2 123456789010 eni-11111111aaaaaaaaa - - - - - - - 1431280876 1431280934 - SKIPDATA",
    ]),
    "7.3": (DEFAULT, [
        "2 123456789010 eni-1235b8ca123456789 203.0.113.12 172.31.16.139 0 0 1 4 336 1432917027 1432917142 ACCEPT OK",
        "2 123456789010 eni-1235b8ca123456789 172.31.16.139 203.0.113.12 0 0 1 4 336 1432917094 1432917142 REJECT OK",
    ]),
    "7.4": (DEFAULT, [
        "2 123456789010 eni-1235b8ca123456789 2001:db8:1234:a100:8d6e:3477:df66:f105 2001:db8:1234:a102:3304:8879:34cf:4071 34892 22 6 54 8855 1477913708 1477913820 ACCEPT OK",
    ]),
    "7.5": (F_7_5, [
        "3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 IPv4 52.213.180.42 10.0.0.62 43416 5001 52.213.180.42 10.0.0.62 6 568 8 1566848875 1566848933 ACCEPT 2 OK",
        "3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 IPv4 10.0.0.62 52.213.180.42 5001 43416 10.0.0.62 52.213.180.42 6 376 7 1566848875 1566848933 ACCEPT 18 OK",
        "3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 IPv4 52.213.180.42 10.0.0.62 43418 5001 52.213.180.42 10.0.0.62 6 100701 70 1566848875 1566848933 ACCEPT 2 OK",
        "3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 IPv4 10.0.0.62 52.213.180.42 5001 43418 10.0.0.62 52.213.180.42 6 632 12 1566848875 1566848933 ACCEPT 18 OK",
        "3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 IPv4 10.0.0.62 52.213.180.42 5001 43418 10.0.0.62 52.213.180.42 6 63388 1219 1566848933 1566849113 ACCEPT 1 OK",
        "3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 IPv4 52.213.180.42 10.0.0.62 43418 5001 52.213.180.42 10.0.0.62 6 23294588 15774 1566848933 1566849113 ACCEPT 1 OK",
        "3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 IPv4 52.213.180.42 10.0.0.62 43638 5001 52.213.180.42 10.0.0.62 6 1260 17 1566933133 1566933193 ACCEPT 3 OK",
    ]),
    "7.6": (F_7_6, [
        "- eni-1235b8ca123456789 10.0.1.5 10.0.0.220 10.0.1.5 203.0.113.5",
        "- eni-1235b8ca123456789 10.0.0.220 203.0.113.5 10.0.0.220 203.0.113.5",
        "- eni-1235b8ca123456789 203.0.113.5 10.0.0.220 203.0.113.5 10.0.0.220",
        "- eni-1235b8ca123456789 10.0.0.220 10.0.1.5 203.0.113.5 10.0.1.5",
    ]),
    "7.7": (F_7_7, [
        "3 eni-33333333333333333 123456789010 vpc-abcdefab012345678 subnet-22222222bbbbbbbbb i-01234567890123456 10.20.33.164 10.40.2.236 39812 80 6 3 IPv4 10.20.33.164 10.40.2.236 ACCEPT OK",
        "3 eni-33333333333333333 123456789010 vpc-abcdefab012345678 subnet-22222222bbbbbbbbb i-01234567890123456 10.40.2.236 10.20.33.164 80 39812 6 19 IPv4 10.40.2.236 10.20.33.164 ACCEPT OK",
        "3 eni-11111111111111111 123456789010 vpc-abcdefab012345678 subnet-11111111aaaaaaaaa - 10.40.1.175 10.40.2.236 39812 80 6 3 IPv4 10.20.33.164 10.40.2.236 ACCEPT OK",
        "3 eni-22222222222222222 123456789010 vpc-abcdefab012345678 subnet-22222222bbbbbbbbb - 10.40.2.236 10.40.2.31 80 39812 6 19 IPv4 10.40.2.236 10.20.33.164 ACCEPT OK",
    ]),
    "7.8": (F_7_8, [
        "5 52.95.128.179 10.0.0.71 80 34210 6 1616729292 1616729349 IPv4 14 15044 123456789012 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-0c50d5961bcb2d47b eni-1235b8ca123456789 ap-southeast-2 apse2-az3 - - ACCEPT 19 52.95.128.179 10.0.0.71 S3 - - ingress OK",
        "5 10.0.0.71 52.95.128.179 34210 80 6 1616729292 1616729349 IPv4 7 471 123456789012 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-0c50d5961bcb2d47b eni-1235b8ca123456789 ap-southeast-2 apse2-az3 - - ACCEPT 3 10.0.0.71 52.95.128.179 - S3 8 egress OK",
    ]),
    "7.9": (DEFAULT, [
        "2 123456789010 eni-abc123de 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
        "2 123456789010 eni-1a2b3c4d - - - - - - - 1431280876 1431280934 - NODATA",
        "2 123456789010 eni-4b118871 - - - - - - - 1431280876 1431280934 - SKIPDATA",
        "2 123456789010 eni-1235b8ca 203.0.113.12 172.31.16.139 0 0 1 4 336 1432917027 1432917142 ACCEPT OK",
        "2 123456789010 eni-f41c42bf 2001:db8:1234:a100:8d6e:3477:df66:f105 2001:db8:1234:a102:3304:8879:34cf:4071 34892 22 6 54 8855 1477913708 1477913820 ACCEPT OK",
    ]),
}

# Spec 7.5: the doc's line with a doubled space after 43638.
DOUBLED = "3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 IPv4 10.0.0.62 52.213.180.42 5001 43638  10.0.0.62 52.213.180.42 6 967 14 1566933133 1566933193 ACCEPT 19 OK"
# Spec 7.6: instance-ENI lines with the doc's trailing annotations.
ANNOTATED = [
    "i-01234567890123456 eni-1111aaaa2222bbbb3 10.0.1.5 203.0.113.5 10.0.1.5 203.0.113.5 #Traffic from the source instance to host on the internet",
    "i-01234567890123456 eni-1111aaaa2222bbbb3 203.0.113.5 10.0.1.5 203.0.113.5 10.0.1.5 #Response traffic from host on the internet to the source instance",
]
# Spec 7.10.
HEADER_7_10 = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"


def strip_annotation(line: str) -> str:
    return re.sub(r" #.*$", "", line)


@pytest.mark.parametrize("section", sorted(GOLDEN))
def test_golden_lines_parse_and_render_identically(section: str) -> None:
    fmt_text, lines = GOLDEN[section]
    fmt = parse_log_format(fmt_text)
    read = decode_text("\n".join(lines) + "\n", fmt, source=f"spec {section}")
    assert read.table.num_rows == len(lines)
    assert render_lines(read.table).to_pylist() == lines
    # the same lines as an S3 file with a header: the format comes from the header
    s3_text = render_text(read.table)
    assert s3_text == (fmt.header + "\n" + "\n".join(lines) + "\n").encode()
    again = decode_text(s3_text)
    assert again.log_format == fmt and again.table.equals(read.table)
    # and through Parquet
    assert render_text(read_parquet(parquet_bytes(read.table))) == s3_text


def test_version_column_matches_format_version() -> None:
    for fmt_text, lines in GOLDEN.values():
        fmt = parse_log_format(fmt_text)
        if "version" in fmt.fields:
            versions = set(decode_text("\n".join(lines), fmt).table.column("version").to_pylist())
            assert versions == {fmt.version}


def test_7_5_doubled_space_strict_rejects_lenient_repairs() -> None:
    text = GOLDEN["7.5"][1][-1] + "\n" + DOUBLED + "\n"
    with pytest.raises(ReadError) as info:
        decode_text(text, F_7_5, source="spec 7.5")
    assert info.value.line_number == 2 and info.value.raw == DOUBLED
    read = decode_text(text, F_7_5, lenient=True)
    assert (read.repaired, read.skipped) == (1, 0)
    rendered = render_lines(read.table).to_pylist()
    assert rendered[1] == DOUBLED.replace("43638  10.0.0.62", "43638 10.0.0.62")
    assert "  " not in rendered[1]
    assert read.table.column("tcp_flags").to_pylist() == [3, 19]  # SYN+FIN, SYN-ACK+FIN


def test_7_6_annotations_are_not_data() -> None:
    with pytest.raises(ReadError):
        decode_text(ANNOTATED[0] + "\n", F_7_6)
    lines = [strip_annotation(a) for a in ANNOTATED]
    read = decode_text("\n".join(lines) + "\n", F_7_6)
    assert render_lines(read.table).to_pylist() == lines
    assert read.log_format.version == 3 and "version" not in read.log_format.fields
    assert read.table.column("instance_id").to_pylist() == ["i-01234567890123456"] * 2
    nat = decode_text("\n".join(GOLDEN["7.6"][1]), F_7_6).table
    assert nat.column("instance_id").null_count == 4  # requester-managed ENI: `-`


def test_7_10_header() -> None:
    assert header_line(parse_log_format(None)) == HEADER_7_10


# The project's shared spec lives beside the checkout (../shared), as in CI's fresh clone; VPCFLOW_SHARED
# names another place.
SHARED = Path(os.environ.get("VPCFLOW_SHARED") or Path(__file__).resolve().parents[2].parent / "shared")
SPEC = SHARED / "spec" / "aws-vpc-flow-logs.md"


@pytest.mark.spec_tied
@pytest.mark.skipif(not SPEC.exists(), reason=f"the shared spec is not at {SPEC} (set VPCFLOW_SHARED)")
def test_every_record_line_of_spec_section_7_is_covered() -> None:
    text = SPEC.read_text()
    section = text[text.index("## 7. Golden sample records"):text.index("## 8. Querying")]
    blocks = re.findall(r"```\n(.*?)```", section, flags=re.S)
    spec_lines = {line for b in blocks for line in b.splitlines() if line.strip()}
    ours = {line for _, lines in GOLDEN.values() for line in lines} | {DOUBLED, HEADER_7_10, *ANNOTATED}
    assert spec_lines == ours
