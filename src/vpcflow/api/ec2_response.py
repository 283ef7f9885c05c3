"""EC2 Query success bodies written as text: the elements ``ec2_query.emit_element`` builds with ElementTree,
written straight into a list of strings (a response is built per call, and ElementTree's tree and
serializer were most of the endpoint's time). Names, order, escaping and empty elements (``<tag />``)
are ElementTree's; ``tests/unit/api/test_api_query_wire.py`` compares the two writers.

Kept items: :class:`RenderedItems` keeps the XML of list items of one shape (DescribeFlowLogs'
``FlowLog``) by their id, for one generation of the state they were read from (the caller's store
version): an item is then written once per change instead of once per request.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import Any
from xml.etree import ElementTree as ET

from botocore.model import OperationModel, ServiceModel, Shape, StructureShape

from vpcflow.api.ec2_query import emit_element, log, member_tag, namespace, scalar_text

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_SPECIAL = frozenset("&<>\r")

#: StructureShape id -> its members as (name, shape, XML tag): computed once per shape, not per value.
_PLANS: dict[int, tuple[StructureShape, list[tuple[str, Shape, str]]]] = {}


def _plan(shape: StructureShape) -> list[tuple[str, Shape, str]]:
    found = _PLANS.get(id(shape))
    if found is None or found[0] is not shape:
        found = (shape, [(n, m, member_tag(m, n)) for n, m in shape.members.items()])
        _PLANS[id(shape)] = found
    return found[1]


def _escaped(text: str) -> str:
    return text.translate(_ESCAPES) if not _SPECIAL.isdisjoint(text) else text


class RenderedItems:
    """The XML of list items whose shape is ``shape_name``, by the value of their ``id_member``, valid for
    one generation of the data the items were made from (:meth:`use` forgets them when it changes).

    Sound only when an item is a function of its id and the generation: DescribeFlowLogs' items are
    (``controlplane.describe.flow_log_item`` of a stored row; the generation is the state store's version).
    """

    def __init__(self, shape_name: str, id_member: str) -> None:
        self.shape_name = shape_name
        self.id_member = id_member
        self._generation: Hashable = None
        self._texts: dict[Any, str] = {}

    def use(self, generation: Hashable) -> RenderedItems:
        """Serve items of ``generation`` (read BEFORE the data, so kept text is never older than its key)."""
        if generation != self._generation:
            self._texts = {}
            self._generation = generation
        return self

    def write(self, out: list[str], shape: Shape, tag: str, items: Iterable[Mapping[str, Any]], where: str) -> None:
        texts = self._texts
        for item in items:
            key = item.get(self.id_member)
            text = texts.get(key) if key is not None else None
            if text is None:
                part: list[str] = []
                _write_text(part, shape, tag, item, where)
                text = "".join(part)
                if key is not None:
                    texts[key] = text
            out.append(text)


def _write_text(out: list[str], shape: Shape, tag: str, value: Any, where: str,
                kept: RenderedItems | None = None) -> None:
    """``emit_element`` as text: the same elements, written straight into ``out`` (a response is built per call,
    and ElementTree's tree and serializer were most of the endpoint's time). ``kept``: items of its
    shape come from (and go to) it."""
    t = shape.type_name
    if t == "structure":
        assert isinstance(shape, StructureShape)
        start = len(out)
        out.append(f"<{tag}>")
        _write_members_text(out, shape, value, where, kept)
        _close(out, start, tag)
    elif t == "list":
        member: Shape = shape.member  # type: ignore[attr-defined]
        if shape.serialization.get("flattened"):
            for item in value:
                _write_text(out, member, tag, item, where, kept)
        else:
            item_tag = str(member.serialization.get("name", "member"))
            start = len(out)
            out.append(f"<{tag}>")
            if kept is not None and member.name == kept.shape_name:
                kept.write(out, member, item_tag, value, where)
            else:
                for item in value:
                    _write_text(out, member, item_tag, item, where, kept)
            _close(out, start, tag)
    elif t == "map":  # rare in EC2 outputs: the tree writer, then its text
        holder = ET.Element("x")
        emit_element(holder, shape, tag, value, where)
        out.extend(ET.tostring(child, encoding="unicode") for child in holder)
    else:
        text = _escaped(value if type(value) is str and t == "string" else scalar_text(shape, value))
        out.append(f"<{tag}>{text}</{tag}>" if text else f"<{tag} />")


def _close(out: list[str], start: int, tag: str) -> None:
    """End an element opened at ``out[start]``; an empty one is ``<tag />``, as ElementTree writes it."""
    if len(out) == start + 1:
        out[start] = f"<{tag} />"
    else:
        out.append(f"</{tag}>")


def _write_members_text(out: list[str], shape: StructureShape, value: Mapping[str, Any], where: str,
                        kept: RenderedItems | None = None) -> None:
    extra = [k for k in value if k not in shape.members and k != "ResponseMetadata"]
    if extra:
        log.warning("%s: result members %s are not in botocore's shape %s; not sent", where, extra, shape.name)
    for name, member, tag in _plan(shape):
        item = value.get(name)
        if item is not None:
            _write_text(out, member, tag, item, where, kept)


def response_xml(model: ServiceModel, op: OperationModel, result: Mapping[str, Any], request_id: str,
                 kept: RenderedItems | None = None) -> bytes:
    """The success body of ``op`` for a boto3-shaped ``result`` (list items of ``kept``'s shape from ``kept``)."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n',
           f'<{op.name}Response xmlns="{namespace(model)}"><requestId>{_escaped(request_id)}</requestId>']
    shape = op.output_shape
    if shape is not None:
        assert isinstance(shape, StructureShape)
        _write_members_text(out, shape, result, op.name, kept)
    else:
        # Operations without output (CreateTags, DeleteTags) answer <return>true</return> in EC2;
        # botocore ignores it, AWS sends it.
        out.append("<return>true</return>")
    out.append(f"</{op.name}Response>")
    return "".join(out).encode("utf-8")
