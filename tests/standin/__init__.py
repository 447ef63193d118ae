"""A stand-in for talosctl v1.12 that tests run instead of the real binary.

``tests/bin/talosctl`` runs :func:`standin.cli.main`. The simulated cluster lives in the
JSON file named by ``TALOSCTL_STANDIN_STATE``; each invocation is appended as a JSON line
to ``TALOSCTL_STANDIN_LOG``. Facts it follows: the talosctl CLI reference in the shared
reference material (flags, defaults, stdout/stderr, exit codes, formats).
"""
