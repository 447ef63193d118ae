"""A stand-in for talosctl v1.12 that tests run instead of the real binary.

``tests/bin/talosctl`` runs :func:`standin.cli.main`. Facts it follows: the Talos v1.12.4
source in ``../shared/reference/talos/source-v1.12.4`` (the authority), then the talosctl
CLI reference beside it (flags and defaults, stdout vs stderr, exit codes 0/1, output
formats, error texts). Every handler's docstring names what it reproduces
(``# Talos: path:Function``) or says what is guessed (where the source is silent or not
in the reference: timing, event sequences, resource contents). The facts are stated as
tests in ``tests/test_standin_fidelity.py``. Code under test must not know it is a
stand-in.

Environment
    ``TALOSCTL_STANDIN_STATE``  JSON file holding the simulated cluster (below).
    ``TALOSCTL_STANDIN_LOG``    every invocation is appended as one JSON line:
                                ``{"argv": [...after the program name], "env_talosconfig",
                                "time", "end", "exit", "pid"}``.

State file
    ``{"nodes": {"<ip>": NODE}, "latency": seconds added to every call that talks to a
    node, "client_version": "v1.12.4", "cluster": {"name", "endpoint"} (for kubeconfig)}``;
    a ``client_version`` newer than v1.12 accepts the document kinds and fields v1.12
    does not know (:func:`standin.machineconfig.check_known`).

    NODE fields (all optional, defaults in :data:`standin.state.NODE_DEFAULTS`):
    ``hostname``, ``role`` (controlplane|worker), ``talos_version``, ``kubernetes_version``,
    ``schematic`` (its ID; shown by ``get extensions`` as the ``schematic`` entry),
    ``config`` / ``staged_config`` (applied YAML or null), ``reachable``, ``maintenance``
    (only ``--insecure`` reaches it), ``member`` (listed by ``get members``),
    ``bootstrapped``, ``stage``, ``ready``, ``boots``, ``upgrade_seconds`` /
    ``reboot_seconds`` (how long the node is down), ``fail_upgrade`` (message: the upgrade
    fails with it and the node comes back on its old version), ``extensions``
    (``[{name, version}]``), ``images`` (``[{name, digest, size, created, namespace}]``),
    ``usage`` (``{path: bytes}``), ``disks`` / ``links`` (``get disks`` / ``get links``:
    ``[{id, <spec fields>}]``; a guessed NVMe machine with one ethernet port by default).

    etcd (``standin.etcd``: ``etcd status``, ``etcd members``, ``etcd snapshot``): the
    members are the control planes that are members, once one is ``bootstrapped``.
    Per node: ``etcd_member`` (false: a control plane outside etcd), ``etcd_running``
    (false: the member's etcd does not answer: the unhealthy-member knob), ``etcd_errors``
    (strings shown in the ERRORS column), ``etcd_learner``, ``etcd_member_id`` (default
    derived from the address), ``etcd_db_size`` / ``etcd_db_in_use`` (bytes),
    ``etcd_keys``. Top level ``"etcd": {"leader": ip, "raft_index", "raft_term"}``; the
    leader falls back to the lowest running member, and without a quorum there is none.

    Written by the commands: ``applied`` (modes used), ``upgrades`` (images), ``resets``
    (``{labels, graceful, reboot, user_disks}``), ``pending`` (a reboot or upgrade in
    progress: the node refuses connections until ``pending.at``, then takes
    ``pending.changes``).

Concurrency: every change holds an exclusive lock on ``<state>.lock`` and replaces the file
atomically; nothing sleeps while holding it, so parallel calls (a rollout) overlap.

In process: :func:`standin.inprocess.call` runs the same command tree inside the caller's
process (no program started), for tests that are not about the process boundary; each
call reads its own environment and writes its own output (:mod:`standin.process`), so
calls from several threads at once behave as several programs would.
"""
