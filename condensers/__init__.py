"""condbench condensers: the `Condenser` interface, the registry and one module per method.

from condensers import Budget, CondenseContext, make_condenser
condenser = make_condenser("tfdcon", {"alpha": 0.5})
small = condenser.condense(dataset, Budget.parse("5%"), np.random.default_rng(0), CondenseContext())
"""

from condensers.base import Budget, Condenser
from condensers.context import CondenseContext
from condensers.registry import ENTRY_POINT_GROUP, available, get, make

get_condenser = get
make_condenser = make
available_condensers = available

__all__ = [
    "ENTRY_POINT_GROUP",
    "Budget",
    "CondenseContext",
    "Condenser",
    "available",
    "available_condensers",
    "get",
    "get_condenser",
    "make",
    "make_condenser",
]
