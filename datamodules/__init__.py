"""LightningDataModules: the synthetic-model set and real-generator splits, registered by name."""

from core.registry import Registry

#: split data sets (known / unseen generators) that the benchmark's protocols run on
DATASETS: Registry = Registry("dataset", home_package="datamodules")
#: training sources that are not split by generator (the synthetic-model set): a method
#: trains on them, a protocol never evaluates on them
TRAINING_DATASETS: Registry = Registry("training data set", home_package="datamodules")
register_dataset = DATASETS.register
register_training_dataset = TRAINING_DATASETS.register
create_dataset = DATASETS.create
create_training_dataset = TRAINING_DATASETS.create
list_datasets = DATASETS.names
