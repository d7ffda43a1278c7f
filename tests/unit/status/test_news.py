"""What a task's creator reads when its status changes: named, escaped, mentioned."""

from __future__ import annotations

import json

from bot.status.views import news_sentence, status_news

WILSON = "Dr. James Wilson, MD"


def test_one_assignee_is_named_as_the_one_who_did_it() -> None:
    assert news_sentence("completed", [WILSON]) == f"{WILSON} completed the task"
    assert news_sentence("in_progress", [WILSON]) == f"{WILSON} started the task"
    assert news_sentence("cancelled", [WILSON]) == f"The task for {WILSON} was cancelled"
    assert news_sentence("not_started", [WILSON]) == f"The task for {WILSON} is now *Not started*"
    assert news_sentence("awaiting_review", [WILSON]).endswith("is now *awaiting_review*")


def test_several_assignees_and_none() -> None:
    assert news_sentence("completed", ["A", "B", "C"]) == "The task for A, B and C was completed"
    assert news_sentence("completed", []) == "The task was completed"
    many = news_sentence("completed", [f"P{i}" for i in range(8)])
    assert many == "The task for P0, P1, P2, P3, P4 and 3 more was completed"


def test_names_are_escaped() -> None:
    said = news_sentence("completed", ["Dr. <!channel> & <@U1>"])
    assert said == "Dr. &lt;!channel&gt; &amp; &lt;@U1&gt; completed the task"
    assert news_sentence("<b>", [WILSON]).endswith("*&lt;b&gt;*")


def test_the_creator_is_mentioned_and_the_ids_shown() -> None:
    news = status_news(creator_user_id="UNURSE", task_id="tsk_1", note_id="nte_2",
                       status="completed", assignees=[WILSON])
    shown = json.dumps(news)
    assert news["text"].startswith(f"<@UNURSE> {WILSON} completed the task")
    assert "tsk_1" in shown and "nte_2" in shown
