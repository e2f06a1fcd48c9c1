"""The data layer: dataset sources, fetching into the cache, conversion to `Dataset`."""

from harness.data.loading import dataset_folder, fetch_dataset, is_cached, load_dataset
from harness.data.registry import DATASETS, get_source
from harness.data.release_llm import ReleaseLLMOutputs, release_llm_outputs

__all__ = [
    "DATASETS",
    "ReleaseLLMOutputs",
    "dataset_folder",
    "fetch_dataset",
    "get_source",
    "is_cached",
    "load_dataset",
    "release_llm_outputs",
]
