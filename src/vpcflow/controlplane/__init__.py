"""The control plane: CreateFlowLogs / DescribeFlowLogs / DeleteFlowLogs, tags, validation, delivery status."""
