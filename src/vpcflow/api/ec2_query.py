"""The EC2 Query protocol, driven by botocore's EC2 service model loaded at run time (wire spec 2.2-2.4).

Requests: ``Action=DescribeFlowLogs&Version=2016-11-15&FlowLogId.1=fl-1&Filter.1.Name=...`` is turned
into boto3's parameter dict (``{"FlowLogIds": ["fl-1"], "Filter": [...]}``) by walking the operation's
input shape with the names botocore's ``EC2Serializer`` writes (``queryName``, else the capitalised
``locationName``, else the member name; lists as ``Name.N``). The dict is checked with botocore's
``ParamValidator``; a missing required member is EC2's ``MissingParameter``, any other report
``InvalidParameterValue``, and a form field the operation does not have ``UnknownParameter`` (EC2
refuses those rather than ignoring them).

Responses: ``<{Operation}Response xmlns=...><requestId>..`` followed by the output members under
their ``locationName`` (``flowLogSet``, ``flowLogIdSet``...), lists as ``<item>`` children, ISO-8601
timestamps with milliseconds, booleans ``true``/``false``. botocore silently drops misnamed elements,
so every name comes from the model, never from a hand-written table.

Errors: ``<Response><Errors><Error><Code>..</Code><Message>..</Message></Error></Errors>
<RequestID>..</RequestID></Response>`` (``RequestID``, capital ID) with the error's HTTP status.

Success bodies are written as text by ``ec2_response.py`` (the same elements as ``emit_element`` here).
"""

from __future__ import annotations

import base64
import functools
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree as ET

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape, StructureShape
from botocore.utils import parse_timestamp
from botocore.validate import ParamValidator

from vpcflow.core.api_errors import (
    InvalidActionError,
    InvalidParameterValueError,
    MissingActionError,
    MissingParameterError,
    UnknownParameterError,
)

log = logging.getLogger("vpcflow.api")

XML_CONTENT_TYPE = "text/xml;charset=UTF-8"
#: Form fields that belong to the protocol or to signing, not to the operation.
_PROTOCOL_FIELDS = frozenset(
    {"Action", "Version", "AWSAccessKeyId", "SignatureMethod", "SignatureVersion", "Signature", "Timestamp",
     "Expires", "SecurityToken"}
)


@functools.cache
def ec2_model() -> ServiceModel:
    """botocore's EC2 model (loaded once per process from botocore's data files)."""
    model: ServiceModel = botocore.session.get_session().get_service_model("ec2")
    return model


def namespace(model: ServiceModel) -> str:
    ns = str(model.metadata.get("xmlNamespace", "http://ec2.amazonaws.com/doc/2016-11-15"))
    return ns if ns.endswith("/") else ns + "/"  # AWS's responses carry the trailing slash


def operation(model: ServiceModel, action: str | None) -> OperationModel:
    """The operation named by the ``Action`` field (``MissingAction`` / ``InvalidAction`` otherwise)."""
    if not action:
        raise MissingActionError("The request must contain the parameter Action")
    if action not in model.operation_names:
        raise InvalidActionError(f"The action {action} is not valid for this web service.")
    return model.operation_model(action)


# ------------------------------------------------------------------------------------ requests
def query_name(shape: Shape, member_name: str) -> str:
    """The wire name of a member, exactly as botocore's EC2Serializer writes it."""
    if "queryName" in shape.serialization:
        return str(shape.serialization["queryName"])
    if "name" in shape.serialization:
        name = str(shape.serialization["name"])
        return name[0].upper() + name[1:]
    return member_name


class _Form:
    """The request's fields, remembering which ones the operation used."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self.values: dict[str, str] = {}
        for k, v in pairs:
            self.values[k] = v  # a repeated field: the last one wins
        self.used: set[str] = set()
        self._prefixes: set[str] = set()
        for k in self.values:
            parts = k.split(".")
            for i in range(1, len(parts)):
                self._prefixes.add(".".join(parts[:i]) + ".")

    def take(self, key: str) -> str | None:
        if key in self.values:
            self.used.add(key)
            return self.values[key]
        return None

    def has_under(self, key: str) -> bool:
        return key + "." in self._prefixes


def _scalar(shape: Shape, raw: str) -> Any:
    """Convert a form value; leave it a string when it does not convert so the validator names it."""
    t = shape.type_name
    try:
        if t in ("integer", "long"):
            return int(raw)
        if t in ("float", "double"):
            return float(raw)
        if t == "boolean":
            low = raw.lower()
            if low in ("true", "false"):
                return low == "true"
            return raw
        if t == "timestamp":
            return parse_timestamp(raw)
        if t == "blob":
            return base64.b64decode(raw, validate=True)
    except (ValueError, TypeError):
        return raw
    return raw


def _parse(shape: Shape, form: _Form, key: str) -> Any:
    t = shape.type_name
    if t == "structure":
        assert isinstance(shape, StructureShape)
        if not form.has_under(key):
            return None
        out: dict[str, Any] = {}
        for name, member in shape.members.items():
            v = _parse(member, form, f"{key}.{query_name(member, name)}")
            if v is not None:
                out[name] = v
        return out
    if t == "list":
        if form.values.get(key) == "":  # botocore writes an empty list as "Name="
            form.take(key)
            return []
        items = []
        i = 1
        while True:
            v = _parse(shape.member, form, f"{key}.{i}")  # type: ignore[attr-defined]
            if v is None:
                break
            items.append(v)
            i += 1
        return items or None
    if t == "map":
        flat = shape.serialization.get("flattened")
        prefix = key if flat else f"{key}.entry"
        k_name = query_name(shape.key, "key")  # type: ignore[attr-defined]
        v_name = query_name(shape.value, "value")  # type: ignore[attr-defined]
        result: dict[Any, Any] = {}
        i = 1
        while (k := _parse(shape.key, form, f"{prefix}.{i}.{k_name}")) is not None:  # type: ignore[attr-defined]
            result[k] = _parse(shape.value, form, f"{prefix}.{i}.{v_name}")  # type: ignore[attr-defined]
            i += 1
        return result or None
    raw = form.take(key)
    return None if raw is None else _scalar(shape, raw)


def parse_request(op: OperationModel, pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Form fields -> boto3's parameters for ``op``, validated with botocore's ParamValidator."""
    form = _Form(pairs)
    shape = op.input_shape
    params: dict[str, Any] = {}
    names: dict[str, str] = {}
    if shape is not None:
        for name, member in shape.members.items():
            wire = query_name(member, name)
            names[name] = wire
            v = _parse(member, form, wire)
            if v is not None:
                params[name] = v
    unknown = sorted(k for k in form.values if k not in form.used and k not in _PROTOCOL_FIELDS)
    if unknown:
        raise UnknownParameterError(f"The parameter {unknown[0]} is not recognized")
    if shape is not None:
        for required in shape.required_members:
            if required not in params:
                raise MissingParameterError(f"The request must contain the parameter {names.get(required, required)}")
        report = ParamValidator().validate(params, shape)
        if report.has_errors():
            raise InvalidParameterValueError(report.generate_report())
    return params


# ------------------------------------------------------------------------------------ responses
def iso_timestamp(value: datetime) -> str:
    """``2024-01-02T03:04:05.000Z`` (UTC, milliseconds): EC2's timestamp form."""
    dt = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def scalar_text(shape: Shape, value: Any) -> str:
    t = shape.type_name
    if t == "boolean":
        return "true" if value else "false"
    if t == "timestamp":
        if isinstance(value, datetime):
            return iso_timestamp(value)
        if isinstance(value, int | float):
            return iso_timestamp(datetime.fromtimestamp(value, UTC))
        return str(value)
    if t == "blob":
        raw = value.encode() if isinstance(value, str) else bytes(value)
        return base64.b64encode(raw).decode()
    return str(value)


def member_tag(shape: Shape, member_name: str) -> str:
    """The element name botocore's EC2QueryParser looks for (``_member_key_name``)."""
    if shape.type_name == "list" and shape.serialization.get("flattened"):
        name = shape.member.serialization.get("name")  # type: ignore[attr-defined]
        if name is not None:
            return str(name)
    return str(shape.serialization.get("name", member_name))


def write_members(parent: ET.Element, shape: StructureShape, value: Mapping[str, Any], where: str) -> None:
    """Append ``value``'s members under their XML names (shared with the Query protocol of STS)."""
    extra = [k for k in value if k not in shape.members and k != "ResponseMetadata"]
    if extra:
        # A result member the model does not have would vanish without a trace in botocore: say so.
        log.warning("%s: result members %s are not in botocore's shape %s; not sent", where, extra, shape.name)
    for name, member in shape.members.items():
        if name in value and value[name] is not None:
            emit_element(parent, member, member_tag(member, name), value[name], f"{where}.{name}")


def emit_element(parent: ET.Element, shape: Shape, tag: str, value: Any, where: str) -> None:
    t = shape.type_name
    if t == "structure":
        assert isinstance(shape, StructureShape)
        write_members(ET.SubElement(parent, tag), shape, value, where)
    elif t == "list":
        member: Shape = shape.member  # type: ignore[attr-defined]
        if shape.serialization.get("flattened"):
            for item in value:
                emit_element(parent, member, tag, item, where)
        else:
            el = ET.SubElement(parent, tag)
            item_tag = str(member.serialization.get("name", "member"))
            for item in value:
                emit_element(el, member, item_tag, item, where)
    elif t == "map":
        key_shape: Shape = shape.key  # type: ignore[attr-defined]
        value_shape: Shape = shape.value  # type: ignore[attr-defined]
        k_tag = str(key_shape.serialization.get("name") or "key")
        v_tag = str(value_shape.serialization.get("name") or "value")
        container = parent if shape.serialization.get("flattened") else ET.SubElement(parent, tag)
        for k, v in value.items():
            entry = ET.SubElement(container, tag if shape.serialization.get("flattened") else "entry")
            emit_element(entry, key_shape, k_tag, k, where)
            emit_element(entry, value_shape, v_tag, v, where)
    else:
        ET.SubElement(parent, tag).text = scalar_text(shape, value)


def error_xml(code: str, message: str, request_id: str) -> bytes:
    """EC2's error body (the status is the error's ``http_status``)."""
    root = ET.Element("Response")
    error = ET.SubElement(ET.SubElement(root, "Errors"), "Error")
    ET.SubElement(error, "Code").text = code
    ET.SubElement(error, "Message").text = message
    ET.SubElement(root, "RequestID").text = request_id
    return document(root)


def document(root: ET.Element) -> bytes:
    body: bytes = ET.tostring(root, encoding="unicode").encode("utf-8")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body
