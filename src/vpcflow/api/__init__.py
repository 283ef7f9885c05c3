"""The AWS-compatible HTTP endpoint (EC2 Query, CloudWatch Logs JSON 1.1) with SigV4."""
