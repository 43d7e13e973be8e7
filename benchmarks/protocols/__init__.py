"""Evaluation protocols (closed set, open set, zero shot), registered by name."""

from core.registry import Registry

PROTOCOLS: Registry = Registry("protocol", home_package="benchmarks.protocols")
register_protocol = PROTOCOLS.register
create_protocol = PROTOCOLS.create
list_protocols = PROTOCOLS.names
