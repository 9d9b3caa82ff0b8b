"""Domain errors raised by services; the API maps them to its error format, pages to flashes or error pages."""


class DomainError(Exception):
    """An expected refusal with a user-facing message (already in the user's language)."""

    status = 400
    code = "bad_request"

    def __init__(self, message, details=None):
        super().__init__(str(message))
        self.message = str(message)
        self.details = details or {}


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotLoggedIn(DomainError):
    status = 401
    code = "unauthorized"


class ValidationFailed(DomainError):
    """Field errors: ``fields`` maps a field name to a list of messages."""

    status = 422
    code = "validation_error"

    def __init__(self, message, fields=None):
        super().__init__(message, {"fields": {k: [str(m) for m in v] for k, v in (fields or {}).items()}})
        self.fields = self.details["fields"]


class Conflict(DomainError):
    status = 409
    code = "conflict"


class InsufficientStock(Conflict):
    code = "insufficient_stock"


class LimitExceeded(Conflict):
    code = "limit_exceeded"


class CampaignNotOpen(Conflict):
    code = "campaign_not_open"


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"


class MixedListings(Conflict):
    """Listings of different names or prices pooled into one item without a confirmation; ``details.listings`` names
    each with its price."""

    code = "mixed_listings"


class AlreadyOrdered(Conflict):
    """The person a coordinator orders for already has an order of the unit in the campaign (``details.order_id``)."""

    code = "already_ordered"


class WeightUnconfirmed(Conflict):
    """A weight far from the expected one: send it again with ``confirm_weight`` to take it (``details.item_ids``)."""

    code = "weight_unconfirmed"


class InvalidSheet(DomainError):
    """``rows`` is a list of {row, column, message}."""

    status = 422
    code = "invalid_sheet"

    def __init__(self, message, rows):
        super().__init__(message, {"rows": rows})
        self.rows = rows


class UploadTooLarge(DomainError):
    status = 413
    code = "too_large"


class OutcomeUnknown(DomainError):
    """The connection to the database broke while it committed: the change may or may not have been saved.

    Only a retry that the database recognises (the same Idempotency-Key, the same form token) is safe then."""

    status = 503
    code = "outcome_unknown"


class PhotosBusy(DomainError):
    """Every photo slot of this machine stayed taken: try again shortly."""

    status = 503
    code = "service_unavailable"
    retry_after = 5


class AlreadyRegistered(Conflict):
    code = "already_registered"


class RateLimited(DomainError):
    """Asked again too soon; ``details.retry_after`` says how many seconds to wait."""

    status = 429
    code = "rate_limited"


class SmsNotSent(DomainError):
    """The SMS channel could not send a message that must go out now (a code); nothing was kept."""

    status = 503
    code = "sms_unavailable"
