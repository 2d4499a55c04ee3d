"""The password policy of the web pages: the setup wizard's admin, a new password, a reset.

One rule for every form that sets a password (the Matrix API keeps the server's own limits).
"""
from __future__ import annotations

COMMON_PASSWORDS = frozenset({
    "password", "password1", "password123", "1234567890", "12345678910", "qwertyuiop", "iloveyou123",
    "letmein123", "welcome123", "passw0rd123", "administrator", "hearthhearth", "matrixmatrix",
})
MIN_PASSWORD_LENGTH = 10


def password_problem(password: str) -> str | None:
    """Why this password will not do (length, too easy to guess), or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > 512:
        return "That password is too long"
    if password.lower() in COMMON_PASSWORDS or len(set(password)) < 4:
        return "That password is too easy to guess"
    return None


def check_new_password(password: str, user_id: str | None = None) -> str | None:
    """Why this password will not do for `user_id` (also: not the user name), or None."""
    problem = password_problem(password)
    if problem is None and user_id and password.lower() == user_id[1:].split(":")[0]:
        return "The password must not be the user name"
    return problem
