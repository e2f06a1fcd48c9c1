"""The LLM layer: one client (`title`, `interests`), backends openai/local/replay, one cache.

client = make_client("openai:smollm2@http://127.0.0.1:8011/v1", cache_dir=root / "llm")
client.title("movielens-tfdcon/item/12", {"title": "toy story", "year": "1995"})
client.interests("movielens-tfdcon/user/7", ["toy story", "heat"])
client.stats(), client.describe()
"""

from condensers.llm.backends import BUILDERS, make_client
from condensers.llm.backends.replay import ReplayClient, ReplayTable, item_key, user_key
from condensers.llm.client import ClientSettings, GeneratingClient, LLMClient
from condensers.llm.errors import LLMInputError, LLMSpecError, LLMUnavailable, ReplayMiss
from condensers.llm.prompts import PROMPT_VERSION

__all__ = [
    "BUILDERS",
    "PROMPT_VERSION",
    "ClientSettings",
    "GeneratingClient",
    "LLMClient",
    "LLMInputError",
    "LLMSpecError",
    "LLMUnavailable",
    "ReplayClient",
    "ReplayMiss",
    "ReplayTable",
    "item_key",
    "make_client",
    "user_key",
]
