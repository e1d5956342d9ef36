"""relier's Redis state: every transition script, its KEYS/ARGV contract and typed replies.

`Store` runs the transitions (one method per script in lua_scripts/) and reads records;
`Contract` builds each script's KEYS and ARGV in the one order its header lists; `Reply` is
every status a script answers.
"""

from relier.store.contract import (
    CREATE_ARGS,
    CREATE_KEYS,
    SHAPES,
    SHARED_KEYS,
    Contract,
    NewTask,
    Reply,
    ScriptCall,
    ScriptShape,
    created,
)
from relier.store.transitions import ChordPart, Placement, StartGrant, StartRefusal, Store

__all__ = [
    "CREATE_ARGS",
    "CREATE_KEYS",
    "SHAPES",
    "SHARED_KEYS",
    "ChordPart",
    "Contract",
    "NewTask",
    "Placement",
    "Reply",
    "ScriptCall",
    "ScriptShape",
    "StartGrant",
    "StartRefusal",
    "Store",
    "created",
]
