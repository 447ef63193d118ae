"""One capability per module (genconfig, apply, upgrade, status, etcd, ...): the facts
of :mod:`talos.core` combined with the programs of :mod:`talos.adapters`, which are
passed in so tests can give fakes. Nothing here imports :mod:`talos.tasks`.
"""
