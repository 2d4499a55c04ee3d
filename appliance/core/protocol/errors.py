"""Matrix errors: an HTTP status, a spec `errcode` and a human-readable `error`."""
from __future__ import annotations

from typing import Any


class MatrixError(Exception):
    status = 400
    errcode = "M_UNKNOWN"

    def __init__(self, error: str = "", *, status: int | None = None, errcode: str | None = None, **extra: Any):
        super().__init__(error)
        self.error = error or self.errcode
        if status is not None:
            self.status = status
        if errcode is not None:
            self.errcode = errcode
        self.extra = extra

    def to_json(self) -> dict[str, Any]:
        return {"errcode": self.errcode, "error": self.error, **self.extra}


def _error(name: str, status: int, errcode: str) -> type[MatrixError]:
    return type(name, (MatrixError,), {"status": status, "errcode": errcode})


Forbidden = _error("Forbidden", 403, "M_FORBIDDEN")
NotFound = _error("NotFound", 404, "M_NOT_FOUND")
Unrecognized = _error("Unrecognized", 404, "M_UNRECOGNIZED")
BadJson = _error("BadJson", 400, "M_BAD_JSON")
NotJson = _error("NotJson", 400, "M_NOT_JSON")
InvalidParam = _error("InvalidParam", 400, "M_INVALID_PARAM")
MissingParam = _error("MissingParam", 400, "M_MISSING_PARAM")
MissingToken = _error("MissingToken", 401, "M_MISSING_TOKEN")
UnknownToken = _error("UnknownToken", 401, "M_UNKNOWN_TOKEN")
UserInUse = _error("UserInUse", 400, "M_USER_IN_USE")
InvalidUsername = _error("InvalidUsername", 400, "M_INVALID_USERNAME")
Exclusive = _error("Exclusive", 400, "M_EXCLUSIVE")
# An appservice asserting a user outside its namespaces (application-service-api.md "Identity assertion").
ExclusiveForbidden = _error("ExclusiveForbidden", 403, "M_EXCLUSIVE")
UnknownDevice = _error("UnknownDevice", 400, "M_UNKNOWN_DEVICE")
TooLarge = _error("TooLarge", 413, "M_TOO_LARGE")
RoomInUse = _error("RoomInUse", 400, "M_ROOM_IN_USE")
BadAlias = _error("BadAlias", 400, "M_BAD_ALIAS")
InvalidRoomState = _error("InvalidRoomState", 400, "M_INVALID_ROOM_STATE")
UnsupportedRoomVersion = _error("UnsupportedRoomVersion", 400, "M_UNSUPPORTED_ROOM_VERSION")
IncompatibleRoomVersion = _error("IncompatibleRoomVersion", 400, "M_INCOMPATIBLE_ROOM_VERSION")
UserDeactivated = _error("UserDeactivated", 403, "M_USER_DEACTIVATED")
UserSuspended = _error("UserSuspended", 403, "M_USER_SUSPENDED")
InviteBlocked = _error("InviteBlocked", 403, "M_INVITE_BLOCKED")
WeakPassword = _error("WeakPassword", 400, "M_WEAK_PASSWORD")
GuestAccessForbidden = _error("GuestAccessForbidden", 403, "M_GUEST_ACCESS_FORBIDDEN")
ResourceLimitExceeded = _error("ResourceLimitExceeded", 403, "M_RESOURCE_LIMIT_EXCEEDED")
ThreepidDenied = _error("ThreepidDenied", 403, "M_THREEPID_DENIED")
InvalidSignature = _error("InvalidSignature", 400, "M_INVALID_SIGNATURE")
WrongRoomKeysVersion = _error("WrongRoomKeysVersion", 403, "M_WRONG_ROOM_KEYS_VERSION")
ProfileTooLarge = _error("ProfileTooLarge", 400, "M_PROFILE_TOO_LARGE")
KeyTooLarge = _error("KeyTooLarge", 400, "M_KEY_TOO_LARGE")
CannotOverwriteMedia = _error("CannotOverwriteMedia", 409, "M_CANNOT_OVERWRITE_MEDIA")
NotYetUploaded = _error("NotYetUploaded", 504, "M_NOT_YET_UPLOADED")
UserLimitExceeded = _error("UserLimitExceeded", 403, "M_USER_LIMIT_EXCEEDED")  # needs info_uri=...


class LimitExceeded(MatrixError):
    status = 429
    errcode = "M_LIMIT_EXCEEDED"

    def __init__(self, retry_after_ms: int, error: str = "Too many requests"):
        super().__init__(error, retry_after_ms=retry_after_ms)
        self.retry_after_ms = retry_after_ms


class UserLocked(MatrixError):
    """Spec (account locking): 401 with soft_logout true, so clients keep their session."""

    status = 401
    errcode = "M_USER_LOCKED"

    def __init__(self, error: str = "This account has been locked"):
        super().__init__(error, soft_logout=True)


class UserInteractiveAuthRequired(MatrixError):
    """A 401 whose body is the UIA flows object (plus errcode when a stage failed)."""

    status = 401
    errcode = ""

    def __init__(self, body: dict[str, Any]):
        super().__init__("User-interactive authentication required")
        self.body = body

    def to_json(self) -> dict[str, Any]:
        return self.body
