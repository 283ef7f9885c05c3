"""The EC2 Query parser and XML serializer against botocore itself (wire spec 2.2-2.4), as properties:

* whatever botocore's ``EC2Serializer`` writes for an operation's parameters, ``parse_request`` reads back
  the same parameters;
* whatever result ``response_xml`` writes for an operation's output shape, botocore's ``EC2QueryParser``
  reads back the same result (so no member is misnamed: botocore would drop it silently).

Values are generated from the service model's shapes, for the flow-log operations and a few deep EC2
operations that exercise nested structures, lists of structures and every scalar type.
"""

from __future__ import annotations

import string
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from botocore.model import OperationModel, Shape, StructureShape
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vpcflow.api.ec2_query import ec2_model, error_xml, parse_request
from vpcflow.api.ec2_response import RenderedItems, response_xml

TEXT = st.text(alphabet=string.ascii_letters + string.digits + " -_./:*<>&\"'é", min_size=1, max_size=12)


def _strategy(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any] | None:
    """Values of ``shape``; None where the depth limit leaves nothing to generate (the member is omitted)."""
    t = shape.type_name
    if t == "structure":
        assert isinstance(shape, StructureShape)
        if depth > 3:
            return None
        members = {n: _strategy(m, depth + 1) for n, m in shape.members.items()}
        required = {n: s for n, s in members.items() if n in shape.required_members and s is not None}
        optional = {n: s for n, s in members.items() if n not in shape.required_members and s is not None}
        if len(required) < len([n for n in shape.members if n in shape.required_members]):
            return None
        if not required and not optional:
            return None
        dicts = st.fixed_dictionaries(required, optional=optional)
        return dicts if required else dicts.filter(bool)  # botocore writes nothing for {}
    if t == "list":
        # EC2's serializer writes nothing for an empty list, so lists on the wire have items.
        item = _strategy(shape.member, depth + 1)  # type: ignore[attr-defined]
        lo = max(int(shape.metadata.get("min", 1)), 1)
        return None if item is None else st.lists(item, min_size=lo, max_size=lo + 1)
    if t == "map":
        value = _strategy(shape.value, depth + 1)  # type: ignore[attr-defined]
        return None if value is None else st.dictionaries(TEXT, value, min_size=1, max_size=2)
    if t == "boolean":
        return st.booleans()
    if t in ("integer", "long"):
        lo = int(shape.metadata.get("min", -(2**31)))
        return st.integers(min_value=lo, max_value=2**31 - 1 if t == "integer" else 2**53)
    if t in ("float", "double"):
        return st.floats(allow_nan=False, allow_infinity=False, width=32).map(float)
    if t == "timestamp":
        return st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)).map(
            lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000, tzinfo=UTC)
        )
    if t == "blob":
        return st.binary(min_size=1, max_size=8)
    return TEXT


def _top(shape: Shape | None) -> st.SearchStrategy[Any]:
    strategy = _strategy(shape) if shape is not None else None
    assert strategy is not None
    return strategy


INPUT_OPS = ["CreateFlowLogs", "DescribeFlowLogs", "DeleteFlowLogs", "CreateTags", "DeleteTags",
             "AuthorizeSecurityGroupIngress", "CreateNetworkAcl", "ModifyVpcEndpoint"]
OUTPUT_OPS = ["CreateFlowLogs", "DescribeFlowLogs", "DeleteFlowLogs", "DescribeTags", "DescribeSecurityGroups",
              "DescribeVpcs", "DescribeNetworkAcls", "DescribeImageAttribute"]


def _op(name: str) -> OperationModel:
    return ec2_model().operation_model(name)


def _normalise(value: Any) -> Any:
    """botocore reads timestamps back with ``tzutc()``; compare instants."""
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if isinstance(value, datetime):
        return value.timestamp()
    return value


@pytest.mark.parametrize("name", INPUT_OPS)
def test_parser_reads_back_what_botocore_writes(name: str) -> None:
    op = _op(name)
    serializer = create_serializer("ec2")

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(_top(op.input_shape))
    def check(params: dict[str, Any]) -> None:
        fields = serializer.serialize_to_request(params, op)["body"]
        assert fields["Action"] == name
        wire = urlencode(fields)  # as botocore's HTTP layer sends it: every value a string
        parsed = parse_request(op, parse_qsl(wire, keep_blank_values=True))
        assert _normalise(parsed) == _normalise(params)

    check()


@pytest.mark.parametrize("name", OUTPUT_OPS)
def test_botocore_reads_back_what_the_serializer_writes(name: str) -> None:
    op = _op(name)
    parser = create_parser("ec2")

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(_top(op.output_shape))
    def check(result: dict[str, Any]) -> None:
        body = response_xml(ec2_model(), op, result, "req-1")
        parsed = parser.parse({"body": body, "headers": {}, "status_code": 200}, op.output_shape)
        assert parsed["ResponseMetadata"]["RequestId"] == "req-1"
        assert _normalise(parsed) == _normalise(result)

    check()


@pytest.mark.parametrize("name", [*OUTPUT_OPS, "DescribeNetworkInterfaces", "DescribeRouteTables"])
def test_the_text_writer_writes_what_the_element_tree_writes(name: str) -> None:
    """response_xml writes text directly (speed); its bytes are those of the ElementTree writer."""
    from xml.etree import ElementTree as ET

    from vpcflow.api.ec2_query import document, namespace, write_members

    op = _op(name)

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(_top(op.output_shape))
    def check(result: dict[str, Any]) -> None:
        root = ET.Element(f"{op.name}Response", {"xmlns": namespace(ec2_model())})
        ET.SubElement(root, "requestId").text = "req-<&>"
        write_members(root, op.output_shape, result, op.name)
        assert response_xml(ec2_model(), op, result, "req-<&>") == document(root)

    check()


def test_flow_log_elements_use_location_names_and_items() -> None:
    op = _op("DescribeFlowLogs")
    result = {
        "FlowLogs": [
            {
                "CreationTime": datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
                "FlowLogId": "fl-1",
                "MaxAggregationInterval": 600,
                "Tags": [{"Key": "k", "Value": "v"}],
                "DestinationOptions": {"HiveCompatiblePartitions": False},
            }
        ],
        "NextToken": "t",
    }
    text = response_xml(ec2_model(), op, result, "r").decode()
    assert text == (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<DescribeFlowLogsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId>'
        "<flowLogSet><item><creationTime>2024-01-02T03:04:05.678Z</creationTime><flowLogId>fl-1</flowLogId>"
        "<tagSet><item><key>k</key><value>v</value></item></tagSet><maxAggregationInterval>600"
        "</maxAggregationInterval><destinationOptions><hiveCompatiblePartitions>false</hiveCompatiblePartitions>"
        "</destinationOptions></item></flowLogSet><nextToken>t</nextToken></DescribeFlowLogsResponse>"
    )


def test_kept_flow_log_items_are_written_once_per_generation() -> None:
    """RenderedItems: within one generation an item's text is reused by id (a DescribeFlowLogs item is a
    function of its id and the state version); a new generation writes every item afresh."""
    op = _op("DescribeFlowLogs")
    kept = RenderedItems("FlowLog", "FlowLogId")

    def body(status: str, generation: object) -> str:
        result = {"FlowLogs": [{"FlowLogId": "fl-1", "DeliverLogsStatus": status}, {"DeliverLogsStatus": status}]}
        return response_xml(ec2_model(), op, result, "r", kept.use(generation)).decode()

    first = body("SUCCESS", (1, 0))
    assert first == response_xml(ec2_model(), op, {"FlowLogs": [{"FlowLogId": "fl-1", "DeliverLogsStatus": "SUCCESS"},
                                                                {"DeliverLogsStatus": "SUCCESS"}]}, "r").decode()
    same_generation = body("FAILED", (1, 0))  # the kept text of fl-1; an item without id is never kept
    assert same_generation.count("SUCCESS") == 1 and same_generation.count("FAILED") == 1
    assert "SUCCESS" not in body("FAILED", (2, 0))


def test_error_body_is_what_botocore_reads_as_a_client_error() -> None:
    body = error_xml("InvalidFlowLogId.NotFound", "no <such> & id", "rid-9")
    parsed = create_parser("ec2").parse({"body": body, "headers": {}, "status_code": 400}, None)
    assert parsed["Error"] == {"Code": "InvalidFlowLogId.NotFound", "Message": "no <such> & id"}
    assert parsed["ResponseMetadata"]["RequestId"] == "rid-9"


def test_operations_without_output_answer_return_true() -> None:
    text = response_xml(ec2_model(), _op("CreateTags"), {}, "r").decode()
    assert text.endswith(
        '<CreateTagsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId>'
        "<return>true</return></CreateTagsResponse>"
    )
