"""The AWS-compatible HTTP endpoint (EC2 Query, CloudWatch Logs JSON 1.1, STS GetCallerIdentity) with SigV4."""
