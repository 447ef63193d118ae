"""The edges of the tool: the only modules that run programs (talosctl, sops), talk to
the network (the Image Factory, pinned downloads) or write files, each turning the
outside world's answers and failures into data and :mod:`talos.errors`. They build on
:mod:`talos.core` and never import :mod:`talos.ops` or :mod:`talos.tasks`.
"""
