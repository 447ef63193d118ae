"""The document kinds and fields a talosctl v1.12 client knows (its config decoder"s
registry), for the strict decoding of ``machineconfig patch`` and ``validate``.

Facts: the reference ``configpatcher-schema-v1.12.json`` (the field tables of Talos
v1.12.4"s config types: pkg/machinery/config/types). Kept to the first level of every
kind, and the second level under ``machine`` and ``cluster`` of the legacy ``v1alpha1``
document: deeper unknown keys are not detected here (guessed simplification).
"""

from __future__ import annotations

KINDS: dict[str, frozenset[str]] = {
    "BondConfig": frozenset({
        "adActorSysPrio", "adLACPActive", "adSelect", "adUserPortKey", "addresses",
        "allSlavesActive", "apiVersion", "arpAllTargets", "arpInterval", "arpIpTargets",
        "arpValidate", "bondMode", "downdelay", "failOverMac", "hardwareAddr", "kind", "lacpRate",
        "links", "lpInterval", "miimon", "minLinks", "missedMax", "mtu", "multicast", "name",
        "nsIp6Targets", "numPeerNotif", "packetsPerSlave", "peerNotifDelay", "primaryReselect",
        "resendIGMP", "routes", "tlbLogicalLb", "up", "updelay", "useCarrier", "xmitHashPolicy",
    }),
    "BridgeConfig": frozenset({
        "addresses", "apiVersion", "hardwareAddr", "kind", "links", "mtu", "multicast", "name",
        "routes", "stp", "up", "vlan",
    }),
    "DHCPv4Config": frozenset({
        "apiVersion", "clientIdentifier", "duidRaw", "ignoreHostname", "kind", "name",
        "routeMetric",
    }),
    "DHCPv6Config": frozenset({
        "apiVersion", "clientIdentifier", "duidRaw", "ignoreHostname", "kind", "name",
        "routeMetric",
    }),
    "DummyLinkConfig": frozenset({
        "addresses", "apiVersion", "hardwareAddr", "kind", "mtu", "multicast", "name", "routes",
        "up",
    }),
    "EthernetConfig": frozenset({
        "apiVersion", "channels", "features", "kind", "name", "rings", "wakeOnLan",
    }),
    "EventSinkConfig": frozenset({"apiVersion", "endpoint", "kind"}),
    "ExistingVolumeConfig": frozenset({"apiVersion", "discovery", "kind", "mount", "name"}),
    "ExtensionServiceConfig": frozenset({
        "apiVersion", "configFiles", "environment", "kind", "name",
    }),
    "HCloudVIPConfig": frozenset({"apiToken", "apiVersion", "kind", "link", "name"}),
    "HostnameConfig": frozenset({"apiVersion", "auto", "hostname", "kind"}),
    "KmsgLogConfig": frozenset({"apiVersion", "kind", "name", "url"}),
    "KubeSpanEndpointsConfig": frozenset({"apiVersion", "extraAnnouncedEndpoints", "kind"}),
    "Layer2VIPConfig": frozenset({"apiVersion", "kind", "link", "name"}),
    "LinkAliasConfig": frozenset({"apiVersion", "kind", "name", "selector"}),
    "LinkConfig": frozenset({
        "addresses", "apiVersion", "kind", "mtu", "multicast", "name", "routes", "up",
    }),
    "NetworkDefaultActionConfig": frozenset({"apiVersion", "ingress", "kind"}),
    "NetworkRuleConfig": frozenset({"apiVersion", "ingress", "kind", "name", "portSelector"}),
    "OOMConfig": frozenset({
        "apiVersion", "cgroupRankingExpression", "kind", "sampleInterval",
        "strictCgroupClassOrdering", "triggerExpression",
    }),
    "PCIDriverRebindConfig": frozenset({"apiVersion", "kind", "name", "targetDriver"}),
    "RawVolumeConfig": frozenset({"apiVersion", "encryption", "kind", "name", "provisioning"}),
    "RegistryAuthConfig": frozenset({
        "apiVersion", "auth", "identityToken", "kind", "name", "password", "username",
    }),
    "RegistryMirrorConfig": frozenset({"apiVersion", "endpoints", "kind", "name", "skipFallback"}),
    "RegistryTLSConfig": frozenset({
        "apiVersion", "ca", "clientIdentity", "insecureSkipVerify", "kind", "name",
    }),
    "ResolverConfig": frozenset({"apiVersion", "kind", "nameservers", "searchDomains"}),
    "SideroLinkConfig": frozenset({"apiUrl", "apiVersion", "kind", "uniqueToken"}),
    "StaticHostConfig": frozenset({"apiVersion", "hostnames", "kind", "name"}),
    "SwapVolumeConfig": frozenset({"apiVersion", "encryption", "kind", "name", "provisioning"}),
    "TimeSyncConfig": frozenset({"apiVersion", "bootTimeout", "enabled", "kind", "ntp", "ptp"}),
    "TrustedRootsConfig": frozenset({"apiVersion", "certificates", "kind", "name"}),
    "UserVolumeConfig": frozenset({
        "apiVersion", "encryption", "filesystem", "kind", "name", "provisioning", "volumeType",
    }),
    "VLANConfig": frozenset({
        "addresses", "apiVersion", "kind", "mtu", "multicast", "name", "parent", "routes", "up",
        "vlanID", "vlanMode",
    }),
    "VolumeConfig": frozenset({"apiVersion", "encryption", "kind", "name", "provisioning"}),
    "WatchdogTimerConfig": frozenset({"apiVersion", "device", "kind", "timeout"}),
    "WireguardConfig": frozenset({
        "addresses", "apiVersion", "firewallMark", "kind", "listenPort", "mtu", "multicast",
        "name", "peers", "privateKey", "routes", "up",
    }),
    "ZswapConfig": frozenset({"apiVersion", "kind", "maxPoolPercent", "shrinkerEnabled"}),
    "v1alpha1": frozenset({"cluster", "debug", "machine", "persist", "version"}),
}

LEGACY_SECTIONS: dict[str, frozenset[str]] = {
    "machine": frozenset({
        "acceptedCAs", "baseRuntimeSpecOverrides", "ca", "certSANs", "controlPlane", "disks",
        "env", "features", "files", "install", "kernel", "kubelet", "logging", "network",
        "nodeAnnotations", "nodeLabels", "nodeTaints", "pods", "registries", "seccompProfiles",
        "sysctls", "sysfs", "systemDiskEncryption", "time", "token", "type", "udev",
    }),
    "cluster": frozenset({
        "acceptedCAs", "adminKubeconfig", "aescbcEncryptionSecret", "aggregatorCA",
        "allowSchedulingOnControlPlanes", "allowSchedulingOnMasters", "apiServer", "ca",
        "clusterName", "controlPlane", "controllerManager", "coreDNS", "discovery", "etcd",
        "externalCloudProvider", "extraManifestHeaders", "extraManifests", "id",
        "inlineManifests", "network", "proxy", "scheduler", "secret", "secretboxEncryptionSecret",
        "serviceAccount", "token",
    }),
}
