"""`vpcflow explain` end to end on the example topology and on AWS-CLI-imported topologies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vpcflow.cli.main import main
from vpcflow.dataplane.explain import explain
from vpcflow.model.topology.loader import load_topology, loads_topology

ROOT = Path(__file__).resolve().parents[2]
THREE_TIER = str(ROOT / "examples" / "topology" / "three-tier.yaml")
FIXTURES = ROOT / "tests" / "fixtures" / "aws_cli"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = 0
    try:
        main(["explain", "--topology", THREE_TIER, *args])
    except SystemExit as e:
        code = int(e.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def as_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    code, out, err = run(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def test_app_to_db_request_and_tracked_reply(capsys: pytest.CaptureFixture[str]) -> None:
    d = as_json(capsys, "--src", "10.0.20.10", "--dst", "10.0.30.10", "--protocol", "tcp", "--dport", "5432")
    obs = d["observations"]
    assert [(o["interface_id"], o["direction"], o["action"]) for o in obs] == [
        ("eni-065383783bbbb8c5b", "egress", "ACCEPT"), ("eni-0df26292f842a29fc", "ingress", "ACCEPT")]
    assert "tcp 5432 from sg-050db5e1bb82ecda5" in obs[1]["decided_by"]  # the referenced-group rule
    assert {c["check"] for c in obs[1]["checks"]} == {"security_group", "network_acl"}
    reply = d["reply"]["observations"]
    assert [(o["direction"], o["action"]) for o in reply] == [("egress", "ACCEPT"), ("ingress", "ACCEPT")]
    assert "tracked connection" in reply[0]["decided_by"]
    assert d["path"] == ["eni-065383783bbbb8c5b egress", "eni-0df26292f842a29fc ingress"]


def test_rejected_request_has_one_reject_and_no_reply(capsys: pytest.CaptureFixture[str]) -> None:
    # The bastion's security group allows SSH from one network only: 5432 from the internet is rejected.
    d = as_json(capsys, "--src", "198.51.100.7", "--dst", "3.91.5.17", "--protocol", "tcp", "--dport", "5432")
    assert [(o["interface_id"], o["action"]) for o in d["observations"]] == [("eni-0d141998882628620", "REJECT")]
    assert d["observations"][0]["dstaddr"] == "10.0.0.20"  # the public IP shows as the private IP
    assert d["reply"] is None and "rejected" in d["reply_note"]


def test_nat_gateway_path_spec_7_6(capsys: pytest.CaptureFixture[str]) -> None:
    d = as_json(capsys, "--src", "10.0.20.10", "--dst", "93.184.216.34", "--protocol", "tcp", "--dport", "443")
    nat = "eni-07e05c36bcdd3f440"
    req = [(o["interface_id"], o["direction"], o["srcaddr"], o["dstaddr"], o["pkt_srcaddr"], o["pkt_dstaddr"])
           for o in d["observations"]]
    assert req == [
        ("eni-065383783bbbb8c5b", "egress", "10.0.20.10", "93.184.216.34", "10.0.20.10", "93.184.216.34"),
        (nat, "ingress", "10.0.20.10", "10.0.0.50", "10.0.20.10", "93.184.216.34"),
        (nat, "egress", "10.0.0.50", "93.184.216.34", "10.0.0.50", "93.184.216.34"),
    ]
    assert [o["traffic_path"] for o in d["observations"]] == [1, None, 8]
    rep = [(o["interface_id"], o["direction"], o["srcaddr"], o["dstaddr"], o["pkt_srcaddr"], o["pkt_dstaddr"])
           for o in d["reply"]["observations"]]
    assert rep == [
        (nat, "ingress", "93.184.216.34", "10.0.0.50", "93.184.216.34", "10.0.0.50"),
        (nat, "egress", "10.0.0.50", "10.0.20.10", "93.184.216.34", "10.0.20.10"),
        ("eni-065383783bbbb8c5b", "ingress", "93.184.216.34", "10.0.20.10", "93.184.216.34", "10.0.20.10"),
    ]


def test_not_captured_dns(capsys: pytest.CaptureFixture[str]) -> None:
    d = as_json(capsys, "--src", "10.0.20.10", "--dst", "10.0.0.2", "--protocol", "udp", "--dport", "53")
    assert [o["action"] for o in d["observations"]] == ["NOT_CAPTURED"]
    assert "amazon_dns" in d["observations"][0]["decided_by"]


def test_icmp_ping_reply_types(capsys: pytest.CaptureFixture[str]) -> None:
    d = as_json(capsys, "--src", "10.0.0.20", "--dst", "10.0.10.10", "--protocol", "icmp")
    assert d["icmp_type"] == 8
    if d["reply"] is not None:
        assert d["reply"]["icmp_type"] == 0


def test_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--src", "10.0.20.10", "--dst", "10.0.30.10", "--protocol", "tcp", "--dport", "5432")
    assert code == 0
    assert "request: 10.0.20.10 -> 10.0.30.10" in out and "reply: 10.0.30.10 -> 10.0.20.10" in out
    assert "decided by:" in out and "ACCEPT" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--src", "10.0.20.10", "--dst", "10.0.30.10", "--protocol", "bogus"), "--protocol"),
        (("--src", "10.0.20.999", "--dst", "10.0.30.10", "--protocol", "tcp"), "--src"),
        (("--src", "10.0.20.10", "--dst", "2001:db8::1", "--protocol", "tcp"), "not the same IP version"),
        (("--src", "10.0.20.10", "--dst", "10.0.30.10", "--protocol", "tcp", "--dport", "70000"), "--dport"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(capsys: pytest.CaptureFixture[str], args: tuple, message: str) -> None:
    code, _, err = run(capsys, *args)
    assert code == 2
    assert message in err


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    code = 0
    try:
        main(["explain", "--help"])
    except SystemExit as e:
        code = int(e.code or 0)
    assert code == 0
    assert "--icmp-type" in capsys.readouterr().out


@pytest.mark.skipif(not (FIXTURES / "shop").is_dir(), reason="AWS CLI fixtures of the topology importer absent")
def test_imported_topology_explains_the_same_as_the_hand_written_one() -> None:
    from vpcflow.model.topology.aws_import import import_aws
    from vpcflow.model.topology.loader import dump_topology_document

    imported = loads_topology(dump_topology_document(import_aws([FIXTURES / "shop"])), source="imported.yaml")
    hand = load_topology(FIXTURES / "shop-handwritten.yaml")
    addresses = [*sorted({str(e.private_ip_address) for e in hand.network_interfaces}), "198.51.100.7"]
    assert len(addresses) > 2
    checked = 0
    for src in addresses:
        for dst in addresses:
            if src == dst:
                continue
            for proto, dport in (("tcp", 22), ("tcp", 443), ("tcp", 5432), ("udp", 53), ("icmp", 0)):
                a = explain(imported, src, dst, proto, sport=40000, dport=dport).as_dict()
                b = explain(hand, src, dst, proto, sport=40000, dport=dport).as_dict()
                assert a == b, (src, dst, proto, dport)
                checked += 1
    assert checked >= 20
