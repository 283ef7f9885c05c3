"""STS ``GetCallerIdentity`` over the Query protocol: "which principal does this access key sign as?".

Tools check their credentials with it (``aws sts get-caller-identity``) before anything else, and it
is the quickest way to see how the endpoint maps an access key to an IAM principal. Nothing else of
STS is served (vpcflow models no temporary credentials; docs/api.md).

Query protocol shapes (wire spec 2.3), driven by botocore's STS model: ``<OpResponse xmlns=...>
<OpResult>`` (the output shape's ``resultWrapper``) then ``<ResponseMetadata><RequestId>``; errors are
``<ErrorResponse><Error><Type>Sender</Type><Code>..</Code><Message>..</Message></Error><RequestId>``.
"""

from __future__ import annotations

import functools
from typing import Any
from xml.etree import ElementTree as ET

import botocore.session
from botocore.model import ServiceModel, StructureShape

from vpcflow.api.ec2_query import document, write_members
from vpcflow.core.api_errors import InvalidActionError, MissingActionError
from vpcflow.iam.principals import Principal

OPERATIONS = ("GetCallerIdentity",)


@functools.cache
def sts_model() -> ServiceModel:
    model: ServiceModel = botocore.session.get_session().get_service_model("sts")
    return model


def check_action(action: str | None) -> str:
    if not action:
        raise MissingActionError("The request must contain the parameter Action")
    if action not in sts_model().operation_names:
        raise InvalidActionError(f"Could not find operation {action} for version 2011-06-15")
    if action not in OPERATIONS:
        raise InvalidActionError(
            f"vpcflow serves STS {', '.join(OPERATIONS)} only; {action} is not supported (no temporary credentials)"
        )
    return action


def caller_identity(principal: Principal) -> dict[str, Any]:
    """AWS's answer: the root's UserId is the account id; a user's is its AIDA... unique id."""
    user_id = principal.account_id if principal.kind == "root" else principal.userid
    return {"UserId": user_id, "Account": principal.account_id, "Arn": principal.display}


def response_xml(action: str, result: dict[str, Any], request_id: str) -> bytes:
    model = sts_model()
    op = model.operation_model(action)
    root = ET.Element(f"{action}Response", {"xmlns": str(model.metadata["xmlNamespace"])})
    shape = op.output_shape
    if shape is not None:
        assert isinstance(shape, StructureShape)
        wrapper = str(shape.serialization.get("resultWrapper", f"{action}Result"))
        write_members(ET.SubElement(root, wrapper), shape, result, action)
    ET.SubElement(ET.SubElement(root, "ResponseMetadata"), "RequestId").text = request_id
    return document(root)


def error_xml(code: str, message: str, request_id: str, *, sender: bool = True) -> bytes:
    root = ET.Element("ErrorResponse", {"xmlns": str(sts_model().metadata["xmlNamespace"])})
    error = ET.SubElement(root, "Error")
    ET.SubElement(error, "Type").text = "Sender" if sender else "Receiver"
    ET.SubElement(error, "Code").text = code
    ET.SubElement(error, "Message").text = message
    ET.SubElement(root, "RequestId").text = request_id
    return document(root)
