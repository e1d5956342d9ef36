"""relier's Redis state: every transition script, its KEYS/ARGV contract and typed replies.

`Store` runs the transitions (one method per script in lua_scripts/) and reads records;
`Contract` builds each script's KEYS and ARGV in the one order its header lists; `Reply` is
every status a script answers.
"""

from relier.store.contract import SHAPES, SHARED_KEYS, Contract, Reply, ScriptCall, ScriptShape
from relier.store.transitions import Placement, StartGrant, StartRefusal, Store

__all__ = ["SHAPES", "SHARED_KEYS", "Contract", "Placement", "Reply", "ScriptCall", "ScriptShape",
           "StartGrant", "StartRefusal", "Store"]
