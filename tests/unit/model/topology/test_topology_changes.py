"""What-if change files applied to topology documents."""

from __future__ import annotations

import pytest

from vpcflow.core.errors import ConfigError
from vpcflow.model.topology.changes import apply_changes

DOC = {
    "security_groups": [
        {"name": "web-sg", "id": "sg-1", "ingress": [
            {"protocol": "tcp", "ports": 80, "group": "lb-sg"},
            {"protocol": "tcp", "ports": 22, "group": "bastion-sg", "description": "SSH from the bastion"},
        ]},
        {"name": "db-sg", "id": "sg-2", "ingress": [{"protocol": "tcp", "ports": 5432, "cidr": "10.0.20.0/24"}]},
    ],
    "network_acls": [{"name": "db-nacl", "ingress": [{"rule": 100, "action": "allow"}]}],
}


def test_remove_by_match_leaves_the_original_untouched() -> None:
    out = apply_changes(DOC, {"changes": [{"remove": "security_groups[web-sg].ingress[description=SSH from the bastion]"}]})
    assert [r["ports"] for r in out["security_groups"][0]["ingress"]] == [80]
    assert len(DOC["security_groups"][0]["ingress"]) == 2  # type: ignore[index]


def test_add_and_set_with_dotted_selector_values() -> None:
    out = apply_changes(DOC, [
        {"add": "network_acls[db-nacl].ingress", "value": {"rule": 40, "action": "deny"}},
        {"set": "security_groups[sg-2].ingress[cidr=10.0.20.0/24].cidr", "value": "10.0.0.0/16"},
    ])
    assert [r["rule"] for r in out["network_acls"][0]["ingress"]] == [100, 40]
    assert out["security_groups"][1]["ingress"][0]["cidr"] == "10.0.0.0/16"


def test_add_creates_a_missing_list() -> None:
    out = apply_changes(DOC, [{"add": "network_acls[0].egress", "value": {"rule": 1}}])
    assert out["network_acls"][0]["egress"] == [{"rule": 1}]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"remove": "security_groups[web-s].ingress[0]"}, r"changes\[0\].*matches 0 items.*name=web-sg"),
        ({"remove": "security_groups[web-sg].ingress[5]"}, "index 5 out of range"),
        ({"remove": "nope[0]"}, "no key 'nope'"),
        ({"add": "network_acls[db-nacl].ingress"}, "needs a `value`"),
        ({"remove": "a", "set": "b", "value": 1}, "exactly one of"),
        ({"set": "security_groups[web-sg].ingress[0", "value": 1}, "bad path step"),
    ],
)
def test_bad_changes_name_the_change(change: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        apply_changes(DOC, [change], source="CHANGE.yaml")


def test_empty_change_file_is_refused() -> None:
    with pytest.raises(ConfigError, match="non-empty list"):
        apply_changes(DOC, {"changes": []})
