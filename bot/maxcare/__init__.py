"""The MaxCare v4 API: the client, its models and its errors."""

from bot.maxcare.client import *  # noqa: F403
