"""modelprint benchmarks: the plan and the runner, protocols, studies and the CLI.

Kept free of heavy imports: the torchvision compatibility hook imports this package at
interpreter start-up (see ``benchmarks.torchvision_compat``).
"""
