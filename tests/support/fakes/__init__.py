"""Real local HTTP fakes of the Slack Web API and the MaxCare v4 API, for tests.

Each is an aiohttp app served on 127.0.0.1 from a thread of its own (server.py): FakeSlack
(slack.py, with slack_views, slack_answers, slack_hooks and slack_rules) and FakeMaxCare
(maxcare.py, with maxcare_data). What they record is in records.py.
"""

from tests.support.fakes.maxcare import FakeMaxCare, Hold
from tests.support.fakes.records import Call, Request
from tests.support.fakes.slack import FakeSlack

__all__ = ["Call", "FakeMaxCare", "FakeSlack", "Hold", "Request"]
