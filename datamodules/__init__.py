"""LightningDataModules: the synthetic-model set and real-generator splits, registered by name."""

from core.registry import Registry

DATASETS: Registry = Registry("dataset", home_package="datamodules")
register_dataset = DATASETS.register
create_dataset = DATASETS.create
list_datasets = DATASETS.names
