"""The run's ENI table and the model-derived columns of flow records.

Aggregation works on integer ENI indexes; this module maps ENI ids (as attribution names them) to
indexes once, and turns index columns back into the interface-role fields of a record
(account-id, vpc-id, subnet-id, instance-id, region, az-id, interface-type, tag fields) and the
next-hop fields, with Arrow ``take`` (no Python loop per record).

Fill rules (spec 1.3; UNCONFIRMED points follow the catalogue's choices in ``model/fields.py``):
- ``account-id`` is the ENI owner; ``instance-id`` is ``-`` for requester-managed ENIs (spec 7.6, 7.7);
- ``interface-type`` is ``-`` for a plain instance ENI (type ``interface``), else EC2's type;
- ``sublocation-*``, ``resource-id``, ``ecs-*``, ``reject-reason``, ``encryption-status`` are ``-``:
  the model has no sublocations, regional NAT gateways, ECS tasks, BPA or encryption controls;
- tag fields: ``interface-tag*`` from the ENI's tags for the keys of the flow log's
  ``TagFieldSpecifications`` (values percent-encoded UTF-8, spec 9); instance and auto-scaling-group
  tags are not in the model and are ``-``.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from vpcflow.model.flowlog import FlowLog
from vpcflow.model.topology.model import NetworkInterface, Topology

#: Aggregation interval of ENIs on Nitro instances, whatever MaxAggregationInterval says (spec 2.1).
NITRO_INTERVAL_S = 60

# Model-derived string fields, per ENI, by field name.
_ENI_STRING_FIELDS = ("account-id", "interface-id", "vpc-id", "subnet-id", "instance-id", "region", "az-id",
                      "interface-type")
NEXT_HOP_FIELDS = {
    "next-hop-interface-id": "interface-id",
    "next-hop-subnet-id": "subnet-id",
    "next-hop-az-id": "az-id",
    "next-hop-vpc-id": "vpc-id",
    "next-hop-interface-type": "next-hop-type",
}
TAG_FIELDS = {
    "instance-tag": ("instance", 0),
    "instance-tag-2": ("instance", 1),
    "interface-tag": ("network-interface", 0),
    "interface-tag-2": ("network-interface", 1),
    "asg-tag": ("auto-scaling-group", 0),
    "asg-tag-2": ("auto-scaling-group", 1),
}


def _interface_values(eni: NetworkInterface | None, eni_id: str, topology: Topology) -> dict[str, str | None]:
    if eni is None:
        # An ENI attribution named but the topology does not hold: only its id is known.
        return {"interface-id": eni_id} | {k: None for k in _ENI_STRING_FIELDS if k != "interface-id"} | {
            "next-hop-type": None}
    subnet = topology.subnets_by_id.get(eni.subnet_id)
    vpc = topology.vpcs_by_id.get(eni.vpc_id)
    itype = None if eni.interface_type == "interface" else eni.interface_type
    return {
        "account-id": eni.owner_id,
        "interface-id": eni.network_interface_id,
        "vpc-id": eni.vpc_id,
        "subnet-id": eni.subnet_id,
        "instance-id": None if eni.requester_managed else eni.instance_id,
        "region": vpc.region if vpc is not None else topology.region,
        "az-id": subnet.availability_zone_id if subnet is not None else None,
        "interface-type": itype,
        # next-hop-interface-type follows interface-type's rule (`-` for a plain instance ENI), so one
        # ENI shows the same type whichever field names it.
        "next-hop-type": itype,
    }


@dataclass
class EniTable:
    """Every ENI the run has seen or covers, by index; grows as attribution names new ENIs."""

    topology: Topology
    ids: list[str] = field(default_factory=list)
    index_of: dict[str, int] = field(default_factory=dict)
    models: list[NetworkInterface | None] = field(default_factory=list)
    _values: dict[str, list[str | None]] = field(default_factory=dict)
    _arrow: dict[str, pa.Array] = field(default_factory=dict)
    _batch_maps: dict[tuple[str, ...], npt.NDArray[np.int64]] = field(default_factory=dict)

    def index(self, eni_id: str) -> int:
        idx = self.index_of.get(eni_id)
        if idx is not None:
            return idx
        idx = len(self.ids)
        model = self.topology.enis_by_id.get(eni_id)
        self.ids.append(eni_id)
        self.index_of[eni_id] = idx
        self.models.append(model)
        for k, v in _interface_values(model, eni_id, self.topology).items():
            self._values.setdefault(k, []).append(v)
        self._arrow.clear()
        return idx

    def map_batch(self, enis: tuple[str, ...]) -> npt.NDArray[np.int64]:
        """Global indexes of a batch's ENI table (cached per distinct tuple)."""
        mapped = self._batch_maps.get(enis)
        if mapped is None:
            mapped = np.array([self.index(e) for e in enis], dtype=np.int64)
            if len(self._batch_maps) > 64:
                self._batch_maps.clear()
            self._batch_maps[enis] = mapped
        return mapped

    def __len__(self) -> int:
        return len(self.ids)

    def column(self, name: str, index: npt.NDArray[np.int64]) -> pa.Array:
        """A string column (`-` = null) of ENI attribute ``name`` for each index (-1 gives null)."""
        arr = self._arrow.get(name)
        if arr is None:
            arr = pa.array(self._values.get(name, [None] * len(self.ids)), type=pa.string())
            self._arrow[name] = arr
        valid = index >= 0
        if bool(valid.all()):
            return arr.take(pa.array(index))
        return arr.take(pa.array(index, mask=~valid))

    def interval_for(self, idx: int, flow_log: FlowLog) -> int:
        """Aggregation interval of ENI ``idx`` under ``flow_log``: Nitro ENIs at most 60 s (spec 2.1)."""
        model = self.models[idx]
        interval = int(flow_log.max_aggregation_interval)
        if model is None or model.nitro:
            return min(interval, NITRO_INTERVAL_S)
        return interval

    def tag_column(self, flow_log: FlowLog, field_name: str, index: npt.NDArray[np.int64]) -> pa.Array:
        """Values of a v11 tag field: the ENI's tag for the configured key, percent-encoded; else `-`."""
        resource_type, position = TAG_FIELDS[field_name]
        key: str | None = None
        for spec in flow_log.tag_field_specifications:
            if spec.resource_type == resource_type and position < len(spec.tag_keys):
                key = spec.tag_keys[position]
        values: list[str | None] = []
        for model in self.models:
            value = None
            if key is not None and model is not None and resource_type == "network-interface":
                value = dict(model.tags).get(key)
            values.append(None if value is None else urllib.parse.quote(value, safe=""))
        return pa.array(values, type=pa.string()).take(pa.array(index))


def covers(flow_log: FlowLog, eni: NetworkInterface | None) -> bool:
    """Whether a flow log records an ENI: decided by the ENI's VPC/subnet, so ENIs added later count (spec 2.8)."""
    if eni is None:
        return False
    if flow_log.resource_type == "VPC":
        return eni.vpc_id == flow_log.resource_id
    if flow_log.resource_type == "Subnet":
        return eni.subnet_id == flow_log.resource_id
    return eni.network_interface_id == flow_log.resource_id
