"""modelprint benchmarks: protocols, metrics, the runner, the CLI and its YAML configs.

Kept free of heavy imports: the torchvision compatibility hook imports this package at
interpreter start-up (see ``benchmarks.torchvision_compat``).
"""
