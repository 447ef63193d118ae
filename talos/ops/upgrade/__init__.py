"""Rolling Talos upgrades: plan from wanted vs observed state, then roll out safely.

    plan       what each node should run, what it runs, so upgrade / current / unreachable
    schedule   the rollout: control planes one at a time with etcd checks, workers
               ``parallel`` at a time, each checked running and ready; stops at the
               first failure
    statuses   readiness checks that run at the same time share their talosctl calls
    events     the phases a node goes through, as progress events, and their wording

The names below are the capability's interface; the modules are how it is built.
"""

from talos.ops.upgrade.events import (
    CHECK_FAILED,
    CHECKING_ETCD,
    DONE,
    FAILED,
    INTERRUPTED,
    STARTING,
    WAITING,
    Event,
    Progress,
    failure_message,
    format_seconds,
)
from talos.ops.upgrade.plan import (
    CURRENT,
    UNREACHABLE,
    UPGRADE,
    Observed,
    Plan,
    Step,
    Wanted,
    health_expectations,
    observe,
    plan_upgrade,
    wanted_state,
)
from talos.ops.upgrade.schedule import (
    DEFAULT_TIMEOUT,
    HEALTH_TIMEOUT,
    POLL_INTERVAL,
    POLL_MOST,
    Client,
    Report,
    RolloutOptions,
    parse_duration,
    rollout,
)

__all__ = [
    "CHECKING_ETCD", "CHECK_FAILED", "CURRENT", "DEFAULT_TIMEOUT", "DONE", "FAILED",
    "HEALTH_TIMEOUT", "INTERRUPTED", "POLL_INTERVAL", "POLL_MOST", "STARTING", "UNREACHABLE",
    "UPGRADE", "WAITING", "Client", "Event", "Observed", "Plan", "Progress", "Report",
    "RolloutOptions", "Step", "Wanted", "failure_message", "format_seconds",
    "health_expectations", "observe", "parse_duration", "plan_upgrade", "rollout",
    "wanted_state",
]
