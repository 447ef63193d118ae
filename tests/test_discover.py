"""Discovery of a new machine in maintenance mode: its disks and links through the
talosctl stand-in, the install disk and network port chosen, the entry suggested."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import inprocess
import pytest
from conftest import Standin

from talos.adapters.talosctl import Talosctl
from talos.ops.discover import (
    Discovery,
    Disk,
    Link,
    discover,
    install_disk,
    network_link,
    suggest,
)

REPO = Path(__file__).resolve().parents[1]
INV = [sys.executable, "-c", "from invoke.main import program; program.run()"]
IP = "192.168.0.214"

PI_DISKS = [
    {"id": "loop0", "size": 75_497_472, "readonly": True},
    {"id": "mmcblk0", "size": 63_864_569_856, "transport": "mmc", "model": "SC64G"},
    {"id": "sda", "size": 1_000_204_886_016, "transport": "usb", "model": "Portable SSD"},
]
PI_LINKS = [
    {"id": "lo", "type": "loopback", "hardwareAddr": "00:00:00:00:00:00",
     "operationalState": "unknown"},
    {"id": "end0", "hardwareAddr": "dc:a6:32:01:02:03", "permanentAddr": "dc:a6:32:01:02:03",
     "driver": "bcmgenet"},
    {"id": "wlan0", "hardwareAddr": "dc:a6:32:01:02:04", "operationalState": "down",
     "linkState": False, "driver": "brcmfmac"},
]


def disk(name: str, size_gb: float, transport: str = "sata", **extra: Any) -> Disk:
    fields: dict[str, Any] = {
        "id": name, "dev_path": f"/dev/{name}", "size": int(size_gb * 10**9),
        "human_size": f"{size_gb} GB", "model": "", "serial": "", "transport": transport,
        "rotational": False, "readonly": False, "cdrom": False, "wwid": "",
    }
    fields.update(extra)
    return Disk(**fields)


def link(name: str, mac: str, *, kind: str = "", state: str = "up", carrier: bool = True,
         permanent: str = "") -> Link:
    return Link(id=name, type="ether", kind=kind, hardware_addr=mac, permanent_addr=permanent,
                operational_state=state, link_state=carrier, driver="igc", bus_path="")


def test_nvme_beats_ssd_beats_emmc_beats_spinning_and_the_smallest_of_a_kind_wins() -> None:
    disks = (disk("sda", 4000, rotational=True), disk("mmcblk0", 64, "mmc"),
             disk("sdb", 500), disk("nvme1n1", 2000, "nvme"), disk("nvme0n1", 256, "nvme"))
    assert install_disk(disks) == disks[4]
    assert install_disk(disks[:3]) == disks[2]
    assert install_disk(disks[:2]) == disks[1]
    assert install_disk(disks[:1]) == disks[0]


def test_removable_read_only_virtual_and_small_disks_are_never_proposed() -> None:
    disks = (disk("sda", 1000, "usb"), disk("sr0", 1, cdrom=True),
             disk("loop0", 0.07, "", readonly=True), disk("zram0", 16, ""),
             disk("sdb", 8), disk("sdc", 500, readonly=True))
    assert install_disk(disks) is None


def test_the_network_port_is_a_physical_link_that_is_up() -> None:
    links = (link("bond0", "aa:00:00:00:00:01", kind="bond"),
             link("eth0", "aa:00:00:00:00:02", state="down", carrier=False),
             link("eth1", "aa:00:00:00:00:03"))
    assert network_link(links) == links[2]
    assert network_link(links[:2]) == links[1]  # none up: the first physical one
    assert network_link(links[:1]) is None


def test_the_suggestion_pins_the_port_by_its_factory_mac() -> None:
    found = Discovery(IP, (disk("nvme0n1", 512, "nvme"),),
                      (link("eth0", "02:00:00:00:00:09", permanent="aa:bb:cc:dd:ee:ff"),))
    suggestion = suggest(found, name="worker-07", role="worker", schematic="intel")
    assert suggestion.entry == {"name": "worker-07", "role": "worker", "ip": IP,
                                "schematic": "intel", "installDisk": "/dev/nvme0n1"}
    assert suggestion.patch == {"machine": {"network": {"interfaces": [
        {"deviceSelector": {"permanentAddr": "aa:bb:cc:dd:ee:ff"}, "dhcp": True}]}}}
    bare = Discovery(IP, (), (link("eth0", "02:00:00:00:00:09"),))
    plain = suggest(bare, name="n", role="worker", schematic="s")
    assert "installDisk" not in plain.entry
    assert plain.patch is not None
    selector = plain.patch["machine"]["network"]["interfaces"][0]["deviceSelector"]
    assert selector == {"hardwareAddr": "02:00:00:00:00:09"}


def pi_in_maintenance(standin: Standin) -> None:
    standin.set_state({"nodes": {IP: {"maintenance": True, "disks": PI_DISKS,
                                      "links": PI_LINKS}}, "latency": 0.0})


def test_the_adapter_asks_a_maintenance_node_insecurely(standin: Standin) -> None:
    pi_in_maintenance(standin)
    found = discover(Talosctl(None), IP)
    assert [d.id for d in found.disks] == ["loop0", "mmcblk0", "sda"]
    assert found.disks[1].transport == "mmc" and found.disks[1].size == 63_864_569_856
    assert [(x.id, x.mac, x.physical) for x in found.links] == [
        ("lo", "00:00:00:00:00:00", False), ("end0", "dc:a6:32:01:02:03", True),
        ("wlan0", "dc:a6:32:01:02:04", True)]
    argvs = [call["argv"] for call in standin.log()]
    assert argvs == [["get", resource, "--nodes", IP, "--insecure", "--output", "json"]
                     for resource in ("disks", "links")]


def inv(*args: str, env: dict[str, str] | None = None, program: bool = False
        ) -> subprocess.CompletedProcess[str]:
    """`inv ARGS` from the repository: in this process (the stand-in too), or with
    ``program`` as the programs themselves."""
    if not program:
        return inprocess.inv(["--search-root", str(REPO), *args], cwd=REPO,
                             env={**os.environ, **(env or {})})
    return subprocess.run([*INV, "--search-root", str(REPO), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


def test_inv_discover_lists_disks_and_links_and_suggests_an_entry(standin: Standin) -> None:
    pi_in_maintenance(standin)
    result = inv("discover", "--ip", IP, "--name", "worker-pi-04", program=True)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.search(r"^mmcblk0 +64 GB +mmc .*<- install disk$", out, re.M)
    assert "sda      1.0 TB" in out
    assert re.search(r"^end0 +ether +- +dc:a6:32:01:02:03 +up +bcmgenet +<- network$", out, re.M)
    assert ("  - name: worker-pi-04\n    role: worker\n    ip: 192.168.0.214\n"
            "    schematic: amd\n    installDisk: /dev/mmcblk0\n") in out
    assert "permanentAddr: dc:a6:32:01:02:03" in out
    assert out.rstrip().endswith("Nothing was written.")


def test_inv_discover_json(standin: Standin) -> None:
    pi_in_maintenance(standin)
    result = inv("discover", "--ip", IP, "--schematic", "rpi-poe", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert [d["devPath"] for d in document["disks"]] == ["/dev/loop0", "/dev/mmcblk0",
                                                         "/dev/sda"]
    assert [x["id"] for x in document["links"]] == ["lo", "end0", "wlan0"]
    assert document["suggestion"]["installDisk"] == "/dev/mmcblk0"
    assert document["suggestion"]["mac"] == "dc:a6:32:01:02:03"
    assert document["suggestion"]["entry"]["schematic"] == "rpi-poe"
    assert document["declaredAs"] is None


def test_a_machine_already_configured_is_one_line_saying_so(standin: Standin) -> None:
    standin.set_state({"nodes": {IP: {}}, "latency": 0.0})
    result = inv("discover", "--ip", IP)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1
    assert errors[0].startswith(f"error: talosctl get disks on {IP} failed:")


@pytest.mark.e2e
@pytest.mark.parametrize("args", [(), ("--ip", IP, "--role", "master")])
def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    result = inv("discover", *args, program=True)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ")


def test_a_machine_can_be_asked_from_a_folder_without_a_cluster_file(
    standin: Standin, tmp_path: Path
) -> None:
    pi_in_maintenance(standin)
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {key: value for key, value in os.environ.items() if key != "TALOS_CLUSTER_FILE"}
    for args in ((), ("--json",)):
        result = subprocess.run([*INV, "--search-root", str(REPO), "discover", "--ip", IP,
                                 "--name", "worker-pi-04", *args],
                                cwd=empty, capture_output=True, text=True, timeout=60,
                                env=env)
        assert result.returncode == 0, result.stderr
        if args:
            document = json.loads(result.stdout)
            assert document["suggestion"]["installDisk"] == "/dev/mmcblk0"
            assert document["suggestion"]["entry"]["schematic"] == "SCHEMATIC"
            assert document["declaredAs"] is None
        else:
            assert "  - name: worker-pi-04\n    role: worker\n    ip: 192.168.0.214\n" \
                in result.stdout
    assert list(empty.iterdir()) == []
