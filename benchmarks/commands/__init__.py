"""``modelprint`` subcommands, one module per concern; each registers with ``@command``."""
