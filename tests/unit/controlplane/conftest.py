"""Fixtures for the control-plane tests (helpers live in cp_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cp_helpers import make_service, make_topology

from vpcflow.controlplane.service import FlowLogService


@pytest.fixture
def svc(tmp_path: Path) -> FlowLogService:
    return make_service(tmp_path, make_topology())


@pytest.fixture
def empty_svc(tmp_path: Path) -> FlowLogService:
    return make_service(tmp_path, None)
