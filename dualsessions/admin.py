"""Sessions outside a request: for scripts, admin tools, cron jobs and support consoles.

Everything comes in a sync flavour for plain scripts and an async twin for async ones (an ``a``
prefix, as Django's ``aget``). The rules are the middlewares' own, from the same core::

    from dualsessions import open_session, revoke_user_sessions

    with open_session(store, session_id) as session:   # an unknown id gives an empty session
        session["plan"] = "pro"                         # saved on exit; nothing written if unchanged

    revoke_user_sessions(store, "ada")                  # log ada out everywhere

Reading never extends a session and never creates one. Ids are never adopted: data saved in the
session of an unknown id goes to a record under a new id (``OpenSession.session_id`` once the block
is left); check ``OpenSession.exists`` first when that is not wanted. Pass ``lifetime``, ``rolling``
and ``user_key`` as the app does, so that expiry and the per-user index follow the same rules.
"""

from __future__ import annotations

from ._async_admin import (
    acount_sessions as acount_sessions,
)
from ._async_admin import (
    adelete_session as adelete_session,
)
from ._async_admin import (
    aopen_session as aopen_session,
)
from ._async_admin import (
    apurge_expired as apurge_expired,
)
from ._async_admin import (
    arevoke_user_sessions as arevoke_user_sessions,
)
from ._async_admin import (
    asession_ids as asession_ids,
)
from ._async_admin import (
    asession_records as asession_records,
)
from ._async_admin import (
    auser_sessions as auser_sessions,
)
from ._opening import OpenSession as OpenSession
from ._sync_admin import (
    count_sessions as count_sessions,
)
from ._sync_admin import (
    delete_session as delete_session,
)
from ._sync_admin import (
    open_session as open_session,
)
from ._sync_admin import (
    purge_expired as purge_expired,
)
from ._sync_admin import (
    revoke_user_sessions as revoke_user_sessions,
)
from ._sync_admin import (
    session_ids as session_ids,
)
from ._sync_admin import (
    session_records as session_records,
)
from ._sync_admin import (
    user_sessions as user_sessions,
)
from .core import UserSession as UserSession

__all__ = [
    "OpenSession",
    "UserSession",
    "acount_sessions",
    "adelete_session",
    "aopen_session",
    "apurge_expired",
    "arevoke_user_sessions",
    "asession_ids",
    "asession_records",
    "auser_sessions",
    "count_sessions",
    "delete_session",
    "open_session",
    "purge_expired",
    "revoke_user_sessions",
    "session_ids",
    "session_records",
    "user_sessions",
]
