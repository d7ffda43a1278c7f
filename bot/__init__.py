"""MaxCare Tasks for Slack."""

__version__ = "0.1.0"
