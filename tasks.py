"""Invoke entry point for talos-tasks: `inv --list` shows every task."""

import atexit
import gc
import sys

# Invoke writes no bytecode unless told to (`--write-pyc`), so that no cache appears
# beside this file; every `inv` call would then compile the package again, which costs
# more than most tasks' own work. The interpreter's own choice stands (-B,
# PYTHONDONTWRITEBYTECODE). Set before the package is imported, so all of it is cached.
sys.dont_write_bytecode = bool(sys.flags.dont_write_bytecode)

# The cyclic garbage collector runs every 700 new container objects by default; a task
# allocates far more than it leaves in cycles (reading a cluster file of 500 nodes makes
# tens of thousands of YAML nodes, all freed by reference counting), so most of those runs
# find nothing: 41 collections, 9 ms, in a no-change `inv genconfig` of 500 nodes, none
# with the threshold below (min of 3). Collections still happen, every 100,000 objects
# (the older generations as before), so a long rollout's memory stays bounded. Set
# before the package loads; Invoke's own start-up is done by then.
gc.set_threshold(100_000)

from talos.tasks import build_namespace  # noqa: E402

ns = build_namespace()

# At exit the interpreter runs a last full garbage collection over every object still
# alive, the whole of Invoke and the package included: 25 ms of CPU in a no-change
# `inv genconfig` of 500 nodes, 17 ms in `inv --list` (min of 8). Frozen, they are left
# to the operating system, which frees the process anyway. Python promises no finalizer
# for objects still alive at exit, and nothing here counts on one: files are closed by
# `with`, temporary folders by their context managers or weakref.finalize, and atexit
# handlers (weakref.finalize's among them) all run, before or after this one.
atexit.register(gc.freeze)
