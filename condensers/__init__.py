"""condbench condensers: the `Condenser` interface, the registry and one module per method.

from condensers import Budget, CondenseContext, make
condenser = make("tfdcon", {"alpha": 0.5})
small = condenser.condense(dataset, Budget.parse("5%"), np.random.default_rng(0), CondenseContext())
"""

from condensers.base import Budget, Condenser
from condensers.context import CondenseContext
from condensers.registry import ENTRY_POINT_GROUP, available, get, make

__all__ = [
    "ENTRY_POINT_GROUP",
    "Budget",
    "CondenseContext",
    "Condenser",
    "available",
    "get",
    "make",
]
