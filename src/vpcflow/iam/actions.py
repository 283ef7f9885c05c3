"""Known IAM actions of the services vpcflow deals with (ec2, logs, s3, iam, sts), for lint.

Not the whole Service Authorization Reference: the flow-log, tag and describe actions of EC2 and the
common others, CloudWatch Logs, S3, IAM and STS actions a flow-log setup meets. An action of one of
these services that is not listed is flagged by ``vpcflow iam lint`` (for instance
``logs:GetLogData``, which AWS does not have); actions of other services are not judged.
``ec2:VpcflowReportDeliveryStatus`` is vpcflow's own extension (agents reporting delivery status,
docs/agent.md); AWS has no such action.
"""

from __future__ import annotations

import re
from functools import lru_cache

from vpcflow.iam.patterns import glob_regex

_EC2 = """
AcceptVpcPeeringConnection AllocateAddress AssignPrivateIpAddresses AssociateAddress AssociateRouteTable
AttachInternetGateway AttachNetworkInterface AttachVolume AuthorizeSecurityGroupEgress
AuthorizeSecurityGroupIngress CreateFlowLogs CreateInternetGateway CreateNatGateway CreateNetworkAcl
CreateNetworkAclEntry CreateNetworkInterface CreateRoute CreateRouteTable CreateSecurityGroup CreateSubnet
CreateTags CreateTransitGateway CreateVpc CreateVpcEndpoint CreateVpcPeeringConnection DeleteFlowLogs
DeleteInternetGateway DeleteNatGateway DeleteNetworkAcl DeleteNetworkAclEntry DeleteNetworkInterface
DeleteRoute DeleteRouteTable DeleteSecurityGroup DeleteSubnet DeleteTags DeleteVpc DeleteVpcEndpoints
DeleteVpcPeeringConnection DescribeAccountAttributes DescribeAddresses DescribeAvailabilityZones
DescribeFlowLogs DescribeImages DescribeInstances DescribeInternetGateways DescribeNatGateways
DescribeNetworkAcls DescribeNetworkInterfaces DescribePrefixLists DescribeRegions DescribeRouteTables
DescribeSecurityGroupRules DescribeSecurityGroups DescribeSubnets DescribeTags DescribeTransitGateways
DescribeVolumes DescribeVpcAttribute DescribeVpcEndpoints DescribeVpcPeeringConnections DescribeVpcs
DetachInternetGateway DetachNetworkInterface DisassociateAddress DisassociateRouteTable
GetFlowLogsIntegrationTemplate GetSecurityGroupsForVpc ModifyNetworkInterfaceAttribute ModifySubnetAttribute
ModifyVpcAttribute RebootInstances ReleaseAddress ReplaceNetworkAclAssociation ReplaceNetworkAclEntry
ReplaceRoute RevokeSecurityGroupEgress RevokeSecurityGroupIngress RunInstances StartInstances
StopInstances TerminateInstances VpcflowReportDeliveryStatus
"""
_LOGS = """
AssociateKmsKey CreateDelivery CreateExportTask CreateLogDelivery CreateLogGroup CreateLogStream
DeleteDelivery DeleteLogDelivery DeleteLogGroup DeleteLogStream DeleteMetricFilter DeleteResourcePolicy
DeleteRetentionPolicy DeleteSubscriptionFilter DescribeDeliveries DescribeDestinations DescribeExportTasks
DescribeLogGroups DescribeLogStreams DescribeMetricFilters DescribeQueries DescribeResourcePolicies
DescribeSubscriptionFilters DisassociateKmsKey FilterLogEvents GetDelivery GetLogDelivery GetLogEvents
GetLogGroupFields GetLogRecord GetQueryResults ListLogDeliveries ListTagsForResource ListTagsLogGroup
PutDestination PutDestinationPolicy PutLogEvents PutMetricFilter PutResourcePolicy PutRetentionPolicy
PutSubscriptionFilter StartLiveTail StartQuery StopLiveTail StopQuery TagLogGroup TagResource
TestMetricFilter UntagLogGroup UntagResource UpdateLogDelivery
"""
_S3 = """
AbortMultipartUpload CreateBucket DeleteBucket DeleteBucketPolicy DeleteObject DeleteObjectTagging
GetBucketAcl GetBucketLocation GetBucketLogging GetBucketOwnershipControls GetBucketPolicy
GetBucketPolicyStatus GetBucketTagging GetBucketVersioning GetEncryptionConfiguration GetLifecycleConfiguration
GetObject GetObjectAcl GetObjectAttributes GetObjectTagging GetObjectVersion ListAllMyBuckets ListBucket
ListBucketMultipartUploads ListBucketVersions ListMultipartUploadParts PutBucketAcl PutBucketLogging
PutBucketOwnershipControls PutBucketPolicy PutBucketTagging PutBucketVersioning PutEncryptionConfiguration
PutLifecycleConfiguration PutObject PutObjectAcl PutObjectTagging RestoreObject
"""
_IAM = """
AddRoleToInstanceProfile AttachGroupPolicy AttachRolePolicy AttachUserPolicy CreateAccessKey CreateGroup
CreateInstanceProfile CreatePolicy CreatePolicyVersion CreateRole CreateServiceLinkedRole CreateUser
DeleteAccessKey DeleteGroup DeleteInstanceProfile DeletePolicy DeletePolicyVersion DeleteRole
DeleteRolePolicy DeleteServiceLinkedRole DeleteUser DeleteUserPolicy DetachGroupPolicy DetachRolePolicy
DetachUserPolicy GetAccessKeyLastUsed GetAccountAuthorizationDetails GetGroup GetInstanceProfile GetPolicy
GetPolicyVersion GetRole GetRolePolicy GetUser GetUserPolicy ListAccessKeys ListAttachedGroupPolicies
ListAttachedRolePolicies ListAttachedUserPolicies ListGroups ListInstanceProfiles ListPolicies
ListPolicyVersions ListRolePolicies ListRoles ListRoleTags ListUserPolicies ListUsers ListUserTags PassRole
PutRolePolicy PutUserPolicy SimulateCustomPolicy SimulatePrincipalPolicy TagRole TagUser UntagRole
UntagUser UpdateAssumeRolePolicy UpdateRole
"""
_STS = """
AssumeRole AssumeRoleWithSAML AssumeRoleWithWebIdentity DecodeAuthorizationMessage GetAccessKeyInfo
GetCallerIdentity GetFederationToken GetSessionToken SetSourceIdentity TagSession
"""

#: service prefix -> known actions (AWS's spelling).
KNOWN_ACTIONS: dict[str, tuple[str, ...]] = {
    svc: tuple(sorted(text.split()))
    for svc, text in (("ec2", _EC2), ("logs", _LOGS), ("s3", _S3), ("iam", _IAM), ("sts", _STS))
}

#: Actions a flow log's CloudWatch delivery role needs (spec aws-vpc-flow-logs.md 3).
CLOUDWATCH_DELIVERY_ACTIONS = (
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "logs:DescribeLogGroups",
    "logs:DescribeLogStreams",
)

_ACTION = re.compile(r"^([A-Za-z0-9-]+):(.+)$")


def all_actions() -> tuple[str, ...]:
    return tuple(f"{svc}:{a}" for svc, acts in KNOWN_ACTIONS.items() for a in acts)


def is_covered_service(action: str) -> bool:
    """Whether ``action``'s service is one this table describes (only those are judged)."""
    m = _ACTION.match(action)
    return m is not None and m.group(1).lower() in KNOWN_ACTIONS


@lru_cache(maxsize=1024)
def expand(pattern: str) -> tuple[str, ...]:
    """The known actions a policy action (glob, case-insensitive) names; ``*`` names them all."""
    rx = glob_regex(pattern, None, ignore_case=True)
    assert rx is not None
    return tuple(a for a in all_actions() if rx.fullmatch(a))


def is_known(action: str) -> bool:
    """An exact action is known if listed; a wildcard is known if it names at least one listed action.

    Actions of services outside the table are reported as known (not judged).
    """
    if action == "*" or not is_covered_service(action):
        return True
    return bool(expand(action))


def canonical(action: str) -> str | None:
    """AWS's spelling of a known exact action (``ec2:createflowlogs`` -> ``ec2:CreateFlowLogs``)."""
    hits = expand(action) if "*" not in action and "?" not in action else ()
    return hits[0] if len(hits) == 1 else None
