"""LogFormat strings: parsing and validation with AWS's rules (spec 1.6), and the version of a format.

A LogFormat is ``${field} ${field} ...``: tokens separated by exactly one space, each token a
field name of the catalogue (``model/fields.py``) wrapped in ``${}``. Omitting the format (``None``)
means the default format (spec 1.2). Anything else that is not exactly this shape is rejected with
an ``InvalidParameterError`` whose message quotes the offending token:

* an empty or all-blank format;
* a leading, trailing or doubled space (AWS: "Value '...' at 'logFormat' has an invalid format");
  a tab, newline or any other separator counts as part of a token and is therefore rejected too;
* a token without the ``${...}`` wrapping (``version``, ``$version``, ``${version``);
* an unknown field name (case matters: ``${Version}`` is unknown);
* a transit-gateway-only field (spec 1.8) in a VPC, subnet or ENI flow log;
* a field listed twice. AWS's behaviour is UNCONFIRMED (spec 1.6); vpcflow rejects it because a
  record table, a Parquet file and an Athena table cannot hold two columns of the same name, and a
  header line with a repeated name could not be read back unambiguously (docs/formats.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from vpcflow.core.api_errors import InvalidParameterError
from vpcflow.model.fields import (
    DEFAULT_FIELDS,
    DEFAULT_FORMAT,
    FIELDS,
    TGW_DEFAULT_FORMAT,
    TGW_FIELD_NAMES,
    format_version,
    to_column,
)

_TOKEN = re.compile(r"\$\{([^{}]*)\}")

#: Resource types whose flow logs record transit-gateway fields (spec 1.8).
TGW_RESOURCE_TYPES = frozenset({"TransitGateway", "TransitGatewayAttachment"})


@dataclass(frozen=True, slots=True)
class LogFormat:
    """A validated LogFormat.

    ``text`` is the LogFormat string as AWS echoes it; ``fields`` the hyphenated field names in
    output order; ``version`` the value of the ``version`` field (spec 1.3: the highest field
    version, whether or not ``${version}`` is chosen); ``columns`` the underscored names.
    """

    text: str
    fields: tuple[str, ...]
    version: int
    columns: tuple[str, ...]
    transit_gateway: bool = False

    @property
    def is_default(self) -> bool:
        """True for the default VPC format (spec 1.2)."""
        return self.text == DEFAULT_FORMAT

    @property
    def header(self) -> str:
        """The S3 plain-text header line, without the newline (spec 1.7)."""
        return " ".join(self.fields)

    @classmethod
    def from_fields(cls, names: tuple[str, ...] | list[str], *, transit_gateway: bool = False) -> LogFormat:
        """Build (and validate) a LogFormat from hyphenated or underscored field names."""
        text = " ".join("${" + _hyphenated(n) + "}" for n in names)
        return parse_log_format(text, transit_gateway=transit_gateway)


def _hyphenated(name: str) -> str:
    # Field names never contain "_", so converting underscores is safe for either spelling.
    return name.replace("_", "-")


def _invalid(text: str, why: str) -> InvalidParameterError:
    return InvalidParameterError(f"Value '{text}' at 'logFormat' has an invalid format: {why}")


def parse_log_format(text: str | None, *, transit_gateway: bool = False) -> LogFormat:
    """Parse and validate a LogFormat string; ``None`` means the default format (spec 1.2).

    ``transit_gateway=True`` validates against the transit-gateway field set (spec 1.8) instead
    of the VPC fields; its default is the TGW default format.
    Raises ``InvalidParameterError`` (code ``InvalidParameter``) naming the offending token.
    """
    return _parse_cached(text, transit_gateway)


@lru_cache(maxsize=256)
def _parse_cached(text: str | None, transit_gateway: bool) -> LogFormat:
    if text is None:
        text = TGW_DEFAULT_FORMAT if transit_gateway else DEFAULT_FORMAT
    if text.strip() == "":
        raise _invalid(text, "the format is empty; it needs at least one ${field}")
    if text.startswith(" "):
        raise _invalid(text, "leading space")
    if text.endswith(" "):
        raise _invalid(text, "trailing space")
    tokens = text.split(" ")
    names: list[str] = []
    seen: set[str] = set()
    allowed_tgw = set(TGW_FIELD_NAMES)
    for i, token in enumerate(tokens):
        if token == "":
            # "a  b".split(" ") gives an empty token between the two spaces.
            raise _invalid(text, f"doubled space after token '{tokens[i - 1]}'")
        m = _TOKEN.fullmatch(token)
        if m is None:
            raise _invalid(text, f"token '{token}' is not of the form ${{field-name}}")
        name = m.group(1)
        f = FIELDS.get(name)
        if f is None:
            raise _invalid(text, f"unknown field '{token}'")
        if transit_gateway:
            if name not in allowed_tgw:
                raise _invalid(text, f"field '{token}' is not available in transit gateway flow logs")
        elif not f.vpc:
            raise _invalid(text, f"field '{token}' is a transit gateway field, not available in VPC flow logs")
        if name in seen:
            raise _invalid(text, f"field '{token}' is listed more than once")
        seen.add(name)
        names.append(name)
    fields = tuple(names)
    return LogFormat(
        text=text,
        fields=fields,
        version=format_version(fields),
        columns=tuple(to_column(n) for n in fields),
        transit_gateway=transit_gateway,
    )


def parse_any_log_format(text: str | None) -> LogFormat:
    """Parse a LogFormat of either kind: a transit gateway format when it names a TGW-only field.

    For readers and tools that get a format without the flow log's resource type (files, the CLI).
    """
    transit = text is not None and any(
        FIELDS[n].transit_gateway for n in _TOKEN.findall(text) if n in FIELDS
    )
    return parse_log_format(text, transit_gateway=transit)


def validate_for_resource(text: str | None, resource_type: str) -> LogFormat:
    """Validate a CreateFlowLogs ``LogFormat`` for a ``ResourceType`` (``VPC``, ``Subnet``,
    ``NetworkInterface``, ``TransitGateway``, ``TransitGatewayAttachment``)."""
    return parse_log_format(text, transit_gateway=resource_type in TGW_RESOURCE_TYPES)


def default_log_format() -> LogFormat:
    """The default VPC format (spec 1.2), version 2."""
    return parse_log_format(None)


def log_format_from_header(line: str) -> LogFormat:
    """The LogFormat a header line (``version account-id ...``, spec 1.7) describes.

    Raises ``InvalidParameterError`` when the line is not a valid header.
    """
    names = line.rstrip("\r\n").split(" ")
    transit = any(n in FIELDS and FIELDS[n].transit_gateway for n in names)
    return parse_log_format(" ".join("${" + n + "}" for n in names), transit_gateway=transit)


def looks_like_header(line: str) -> bool:
    """True when every space-separated token of ``line`` is a field name (a header, spec 1.7).

    No record value is a field name (values are numbers, addresses, ids, enums in capitals), so
    this tells a header from a record.
    """
    tokens = line.rstrip("\r\n").split(" ")
    return bool(tokens) and all(t in FIELDS for t in tokens)


__all__ = [
    "DEFAULT_FIELDS",
    "TGW_RESOURCE_TYPES",
    "LogFormat",
    "default_log_format",
    "log_format_from_header",
    "looks_like_header",
    "parse_any_log_format",
    "parse_log_format",
    "validate_for_resource",
]
