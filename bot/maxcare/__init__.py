"""The MaxCare v4 API: the client, its models, its errors and the ID rules."""

from bot.errors import (
    BadRequest,
    BudgetUnreadable,
    Forbidden,
    MaxCareAmbiguous,
    MaxCareAPIError,
    MaxCareError,
    MaxCareUnavailable,
    NotConnected,
    NotFound,
    RateLimited,
    ServerError,
    Unauthorized,
)
from bot.maxcare.client import MaxCareClient
from bot.maxcare.ids import (
    NOTE_ID_RE,
    PROVIDER_ID_RE,
    TASK_ID_RE,
    normalize_id,
    normalize_note_id,
    normalize_provider_id,
)
from bot.maxcare.models import (
    Pagination,
    Provider,
    ProviderPage,
    ProviderSummary,
    Task,
    TaskPage,
    parse_timestamp,
)
from bot.maxcare.shares import SharedBudget, purpose

__all__ = [
    # client, and whose share of its budget a request counts towards
    "MaxCareClient", "SharedBudget", "purpose",
    # models
    "Pagination", "Provider", "ProviderPage", "ProviderSummary", "Task", "TaskPage",
    "parse_timestamp",
    # errors (the tree is drawn in bot.errors)
    "BadRequest", "BudgetUnreadable", "Forbidden", "MaxCareAPIError", "MaxCareAmbiguous",
    "MaxCareError", "MaxCareUnavailable", "NotConnected", "NotFound", "RateLimited", "ServerError",
    "Unauthorized",
    # IDs
    "NOTE_ID_RE", "PROVIDER_ID_RE", "TASK_ID_RE", "normalize_id", "normalize_note_id",
    "normalize_provider_id",
]  # fmt: skip
