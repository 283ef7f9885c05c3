"""Reporting delivery status to the control plane: the ``VpcflowReportDeliveryStatus`` extension.

The agent's sinks record each flow log's status in ``<state>/status.json``; at every refresh the
reporter sends each status that changed since its last accepted report, signed with SigV4 by the
agent's own credentials (``controlplane/status_report.py`` for the server side). A report that fails
(endpoint down) is sent again at the next refresh; only the last status per flow log is kept, so the
endpoint ends up with what the agent saw last. Against AWS itself nothing is sent (no such action).
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

log = logging.getLogger("vpcflow.agent")
ACTION = "VpcflowReportDeliveryStatus"  # controlplane/status_report.py (the agent does not import the server)


class StatusReporter:
    def __init__(self, session: Any, *, endpoint_url: str, region: str, agent_id: str) -> None:
        self.session, self.url, self.region, self.agent_id = session, endpoint_url.rstrip("/") + "/", region, agent_id
        self.sent: dict[str, tuple[str, str | None]] = {}

    def _send(self, flow_log_id: str, status: str, message: str | None) -> bool:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        form = {"Action": ACTION, "Version": "2016-11-15", "FlowLogId": flow_log_id, "DeliverLogsStatus": status}
        if status == "FAILED" and message:
            form["DeliverLogsErrorMessage"] = message
        body = urllib.parse.urlencode(form).encode()
        req = AWSRequest(method="POST", url=self.url, data=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        creds = self.session.get_credentials()
        if creds is None:
            log.warning("no credentials: delivery status not reported")
            return False
        SigV4Auth(creds.get_frozen_credentials(), "ec2", self.region).add_auth(req)
        http = urllib.request.Request(self.url, data=body, headers=dict(req.headers.items()), method="POST")
        try:
            with urllib.request.urlopen(http, timeout=10) as r:
                return bool(r.status == 200)
        except urllib.error.HTTPError as e:
            log.warning("status report for %s refused: HTTP %s %s", flow_log_id, e.code, e.read()[:300])
            return False
        except OSError as e:
            log.warning("status report for %s not sent (will retry): %s", flow_log_id, e)
            return False

    def report(self, statuses: dict[str, Any]) -> None:
        """Send every status that changed since its last accepted report."""
        for fid, entry in sorted(statuses.items()):
            now = (str(entry.get("status")), entry.get("message"))
            if self.sent.get(fid) == now:
                continue
            if self._send(fid, now[0], now[1]):
                self.sent[fid] = now
