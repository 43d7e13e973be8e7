"""The bottom layer every other package shares and that imports none of them.

Registries, seeding, paths, hashing, image ops, metrics, the one error type and the
small Lightning/W&B helpers live here, so that ``datamodules`` and ``lightning_modules``
never reach up into ``benchmarks`` (the runner and CLI) or ``leaderboards`` (the store and
its views) - see ``tests/test_layers.py``.
"""
