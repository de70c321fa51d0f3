"""The failures a caller can act on, one type per kind.

Each carries a stable machine-readable ``code`` and a message a person can act on, and
where a rule of law makes the refusal, its ``basis`` (e.g. 《中华人民共和国行政处罚法》第四十三条).
Views and the API map them to one response shape with ``http_status``.
"""


class RedressError(Exception):
    """Base of every failure Redress reports to a user."""

    code = "error"
    http_status = 400

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        basis: str = "",
    ):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field = field
        self.basis = basis

    def as_dict(self) -> dict:
        body = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        if self.basis:
            body["basis"] = self.basis
        return body


class InvalidIdentifier(RedressError):
    """A Unified Social Credit Code or resident ID that fails its checks."""

    code = "invalid_identifier"


class InvalidInput(RedressError):
    """Input that is well-formed but not acceptable (wrong record, missing grounds, ...)."""

    code = "invalid_input"


class WrongState(RedressError):
    """The action is not possible in the case's (or task's) current state."""

    code = "wrong_state"
    http_status = 409


class NotPermitted(RedressError):
    """The user may not do this to this object."""

    code = "not_permitted"
    http_status = 403


class RuleViolation(RedressError):
    """The rule set in force forbids this (e.g. a restoration before the minimum period)."""

    code = "rule_violation"
    http_status = 409


class UploadRejected(RedressError):
    """An uploaded file was refused (size, type, content)."""

    code = "upload_rejected"


class Duplicate(RedressError):
    """The same submission was already received."""

    code = "duplicate"
    http_status = 409


class TooManyRequests(RedressError):
    """Too many attempts at something that is limited (password reset mails, logins)."""

    code = "too_many_requests"
    http_status = 429


class RequestTooLarge(RedressError):
    """A request body larger than its endpoint accepts (refused before it is read)."""

    code = "too_large"
    http_status = 413
