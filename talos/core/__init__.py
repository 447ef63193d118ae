"""The pure layer: the cluster model, the patch merger, schematics, go-yaml and version
rules. Data in, data out: nothing here runs a program, opens a socket or writes a file,
and nothing here imports :mod:`talos.adapters`, :mod:`talos.ops` or :mod:`talos.tasks`.
"""
