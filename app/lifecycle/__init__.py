"""The message lifecycle: the pipeline's steps, the state changes a message may make,
and the one guarded door every writer moves a message through.

Owns `Step` (the names of the pipeline's steps and the state a message resumes in at
each), the table of allowed transitions between `MessageState`s, and `move`, which
changes a message's state only if it is still at the version (and state) its caller
read. No step logic lives here: the pipeline binds each `Step` to its work.
"""

from app.lifecycle.move import guarded_update, move
from app.lifecycle.steps import RESUME_STATE, Step, resume_state
from app.lifecycle.transitions import ALLOWED, IllegalTransition, check_transition, is_allowed

__all__ = [
    "ALLOWED",
    "RESUME_STATE",
    "IllegalTransition",
    "Step",
    "check_transition",
    "guarded_update",
    "is_allowed",
    "move",
    "resume_state",
]
