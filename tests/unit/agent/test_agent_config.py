"""The agent's configuration: flags and file merged, every problem one line naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from vpcflow.agent.config import build_config, load_config
from vpcflow.core.errors import ConfigError

ENI = "eni-0123456789abcdef0"


def base(**extra: object) -> dict[str, object]:
    return {"state_dir": "/var/lib/a", "region": "us-east-1", "devices": {"eth0": ENI}, **extra}


def test_defaults_and_owned_enis() -> None:
    cfg = build_config(base(agent_id="web-1"))
    assert cfg.endpoint_url is None and cfg.segment_s == 60 and cfg.refresh_s == 30
    assert cfg.owned == frozenset({ENI}) and cfg.agent_id == "web-1"
    assert build_config(base(endpoint_url="aws")).endpoint_url is None


@pytest.mark.parametrize(("extra", "key", "words"), [
    ({"devices": {"eth0": "eni-nothex"}}, "devices.eth0", "ENI id"),
    ({"devices": {}}, "devices", "name the devices"),
    ({"region": "mars"}, "region", "us-east-1"),
    ({"segment_s": 90}, "segment_s", "multiple of 60"),
    ({"segment_s": 30}, "segment_s", "from 60"),
    ({"endpoint_url": "ftp://x"}, "endpoint_url", "http"),
    ({"access_key_id": "AKIA"}, "access_key_id", "both"),
    ({"agent_id": "a b"}, "agent_id", "letters"),
    ({"colour": "red"}, "colour", "unknown key"),
])
def test_bad_values_are_one_line_errors_naming_the_key(extra: dict[str, object], key: str, words: str) -> None:
    with pytest.raises(ConfigError) as e:
        build_config(base(**extra), where="agent.yaml")
    assert e.value.key_path == key and words in str(e.value) and "\n" not in str(e.value)


def test_the_file_is_read_and_flags_win(tmp_path: Path) -> None:
    f = tmp_path / "agent.yaml"
    f.write_text(f"state_dir: st\nregion: eu-west-1\ndevices: {{eth0: {ENI}}}\nsegment_s: 300\n")
    cfg = load_config(f, {"segment_s": 120, "devices": {"eth1": "eni-0123456789abcdef1"}, "region": None})
    assert cfg.state_dir == tmp_path / "st" and cfg.region == "eu-west-1" and cfg.segment_s == 120
    assert cfg.devices == {"eth0": ENI, "eth1": "eni-0123456789abcdef1"}


def test_a_followed_directory_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such directory"):
        build_config(base(devices={}, follow={"dir": str(tmp_path / "nope"), "interface": ENI}))
    cfg = build_config(base(devices={}, follow={"dir": str(tmp_path), "interface": ENI}))
    assert cfg.follow is not None and cfg.owned == frozenset({ENI})


def test_snapshots_the_newest_is_the_last_saved_and_old_ones_go(tmp_path: Path) -> None:
    import os

    from vpcflow.agent.state import AgentState, Segment

    st = AgentState(tmp_path)
    st.set_open(Segment(0, 60, "d0"))
    for i in range(12):
        st.save_snapshot(f"d{i}", {"i": i})
        path = tmp_path / "snapshots" / f"d{i}.json"
        os.utime(path, ns=(i * 10**9, i * 10**9))  # file times as if saved a second apart
    st.save_snapshot("d5", {"i": 5})  # d5 is current again (a rule put back)
    assert st.latest_snapshot() == "d5"
    kept = sorted(p.stem for p in (tmp_path / "snapshots").glob("*.json"))
    assert "d0" in kept  # the open segment's, however old
    assert len(kept) == AgentState.KEEP_SNAPSHOTS + 1
