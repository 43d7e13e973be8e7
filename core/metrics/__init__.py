"""Metrics as torchmetrics: a functional core and a ``Metric`` class per figure."""
