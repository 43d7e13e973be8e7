"""Attribution methods, one LightningModule per file, registered by name (timm-style)."""

from core.registry import Registry

METHODS: Registry = Registry("method", home_package="lightning_modules")
register_method = METHODS.register
create_method = METHODS.create
list_methods = METHODS.names
