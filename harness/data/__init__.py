"""The data layer: dataset sources, fetching into the cache, conversion to `Dataset`."""

from harness.data.importing import IMPORT_FORMATS, import_sequential
from harness.data.loading import dataset_folder, fetch_dataset, is_cached, load_dataset
from harness.data.registry import DATASETS, get_source
from harness.data.release_llm import ReleaseLLMOutputs, release_llm_outputs
from harness.data.sequential_protocol import (
    SequentialEvents,
    SequentialSettings,
    build_sequential,
)

__all__ = [
    "DATASETS",
    "IMPORT_FORMATS",
    "ReleaseLLMOutputs",
    "SequentialEvents",
    "SequentialSettings",
    "build_sequential",
    "dataset_folder",
    "fetch_dataset",
    "get_source",
    "import_sequential",
    "is_cached",
    "load_dataset",
    "release_llm_outputs",
]
