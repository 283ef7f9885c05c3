"""AWS-managed policies vpcflow knows by ARN, written as data: only their well-known action patterns.

These are vpcflow's own compact renderings of what each AWS-managed policy grants (the parts that
matter for flow logs, EC2, CloudWatch Logs and S3); they are not copies of AWS's current documents,
which change over time. A topology that names any other ``arn:aws:iam::aws:policy/...`` gets a
``ConfigError`` listing these.
"""

from __future__ import annotations

from typing import Any

_ALL: dict[str, Any] = {"Effect": "Allow", "Resource": "*"}


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [dict(_ALL, **s) for s in statements]}


AWS_MANAGED_POLICIES: dict[str, dict[str, Any]] = {
    "arn:aws:iam::aws:policy/AdministratorAccess": _doc({"Action": "*"}),
    "arn:aws:iam::aws:policy/PowerUserAccess": _doc(
        {"NotAction": ["iam:*", "organizations:*", "account:*"]},
        {
            "Action": [
                "iam:CreateServiceLinkedRole",
                "iam:DeleteServiceLinkedRole",
                "iam:ListRoles",
                "organizations:DescribeOrganization",
                "account:ListRegions",
            ]
        },
    ),
    "arn:aws:iam::aws:policy/ReadOnlyAccess": _doc(
        {
            "Action": [
                "ec2:Describe*",
                "ec2:Get*",
                "logs:Describe*",
                "logs:Get*",
                "logs:List*",
                "logs:FilterLogEvents",
                "logs:StartQuery",
                "logs:StopQuery",
                "s3:Get*",
                "s3:List*",
                "iam:Get*",
                "iam:List*",
                "sts:GetCallerIdentity",
            ]
        }
    ),
    "arn:aws:iam::aws:policy/AmazonEC2FullAccess": _doc(
        {"Action": ["ec2:*", "elasticloadbalancing:*", "cloudwatch:*", "autoscaling:*"]},
        {
            "Action": "iam:CreateServiceLinkedRole",
            "Condition": {
                "StringEquals": {
                    "iam:AWSServiceName": [
                        "autoscaling.amazonaws.com",
                        "ec2scheduled.amazonaws.com",
                        "elasticloadbalancing.amazonaws.com",
                        "spot.amazonaws.com",
                        "spotfleet.amazonaws.com",
                        "transitgateway.amazonaws.com",
                    ]
                }
            },
        },
    ),
    "arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess": _doc(
        {
            "Action": [
                "ec2:Describe*",
                "ec2:GetSecurityGroupsForVpc",
                "elasticloadbalancing:Describe*",
                "cloudwatch:ListMetrics",
                "cloudwatch:GetMetricStatistics",
                "cloudwatch:Describe*",
                "autoscaling:Describe*",
            ]
        }
    ),
    "arn:aws:iam::aws:policy/CloudWatchLogsFullAccess": _doc({"Action": ["logs:*", "cloudwatch:GenerateQuery"]}),
    "arn:aws:iam::aws:policy/CloudWatchLogsReadOnlyAccess": _doc(
        {
            "Action": [
                "logs:Describe*",
                "logs:Get*",
                "logs:List*",
                "logs:StartQuery",
                "logs:StopQuery",
                "logs:TestMetricFilter",
                "logs:FilterLogEvents",
                "logs:StartLiveTail",
                "logs:StopLiveTail",
                "cloudwatch:GenerateQuery",
            ]
        }
    ),
    "arn:aws:iam::aws:policy/AmazonS3FullAccess": _doc({"Action": ["s3:*", "s3-object-lambda:*"]}),
    "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess": _doc(
        {"Action": ["s3:Get*", "s3:List*", "s3:Describe*", "s3-object-lambda:Get*", "s3-object-lambda:List*"]}
    ),
    "arn:aws:iam::aws:policy/IAMFullAccess": _doc(
        {
            "Action": [
                "iam:*",
                "organizations:DescribeAccount",
                "organizations:DescribeOrganization",
                "organizations:DescribeOrganizationalUnit",
                "organizations:DescribePolicy",
                "organizations:ListChildren",
                "organizations:ListParents",
                "organizations:ListPoliciesForTarget",
                "organizations:ListRoots",
                "organizations:ListPolicies",
                "organizations:ListTargetsForPolicy",
            ]
        }
    ),
}
