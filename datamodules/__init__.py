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

#: options that say where and how a data set is read, not what it holds: recorded with each
#: run, but never part of a cell's key nor a reason to hide a run on the board - the data hash
#: (of the decoded images) identifies the content, so ``base``, ``./base/`` and another
#: node's scratch copy of it are one data set
READING_OPTIONS = frozenset(
    {"path", "root", "annotations", "data_files", "data_dir", "files", "batch_size", "num_workers"}
)


def content_options(options: dict) -> dict:
    """``options`` less the :data:`READING_OPTIONS`."""
    return {k: v for k, v in options.items() if k not in READING_OPTIONS}
