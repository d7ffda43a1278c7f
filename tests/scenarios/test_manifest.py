"""manifest.yml and the code agree: every entry is answered, every ID the code uses is declared."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import yaml
from slack_bolt.kwargs_injection.async_args import AsyncArgs

from bot import ids
from tests.support import ROOT, payloads
from tests.support.harness import DOCTOR, NURSE, Harness

MANIFEST = ROOT / "manifest.yml"
# What Bolt injects into a listener, by parameter name.
BOLT_ARGUMENTS = set(inspect.signature(AsyncArgs.__init__).parameters) - {"self", "next", "kwargs"}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    data = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def shortcuts(manifest: dict[str, Any]) -> dict[str, str]:
    """callback_id → type of every shortcut."""
    return {s["callback_id"]: s["type"] for s in manifest["features"]["shortcuts"]}


def request_urls(manifest: dict[str, Any]) -> list[str]:
    urls = [c["url"] for c in manifest["features"].get("slash_commands", [])]
    settings = manifest["settings"]
    interactivity = settings.get("interactivity", {})
    urls += [interactivity[k] for k in ("request_url", "message_menu_options_url")
             if k in interactivity]
    if "event_subscriptions" in settings:
        urls.append(settings["event_subscriptions"]["request_url"])
    return urls


def test_slash_command(manifest: dict[str, Any]) -> None:
    commands = manifest["features"]["slash_commands"]
    assert [c["command"] for c in commands] == [ids.SLASH_COMMAND] == ["/task"]
    assert commands[0]["should_escape"] is True
    assert len(commands[0]["description"]) <= 100
    assert "help" in commands[0]["usage_hint"]


def test_shortcuts_match_ids(manifest: dict[str, Any]) -> None:
    assert shortcuts(manifest) == {ids.MESSAGE_SHORTCUT: "message", ids.GLOBAL_SHORTCUT: "global"}
    for shortcut in manifest["features"]["shortcuts"]:
        assert len(shortcut["name"]) <= 24
        assert shortcut["description"]


def test_every_callback_the_code_uses_is_declared(manifest: dict[str, Any]) -> None:
    assert set(shortcuts(manifest)) >= ids.ALL_CALLBACKS
    assert {ids.MESSAGE_SHORTCUT, ids.GLOBAL_SHORTCUT} <= ids.ALL_CALLBACKS


def test_interactivity_and_transport(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is False
    urls = request_urls(manifest)
    assert len(urls) >= 2
    for url in urls:
        assert url.startswith("https://"), url
        assert url.endswith("/slack/events"), url


def test_scopes_cover_what_the_app_calls(manifest: dict[str, Any]) -> None:
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "im:write", "users:read"} <= scopes


def test_bot_user_exists(manifest: dict[str, Any]) -> None:
    assert manifest["features"]["bot_user"]["display_name"]


def test_the_workflow_step_matches_ids(manifest: dict[str, Any]) -> None:
    functions = manifest["functions"]
    assert set(functions) == ids.ALL_FUNCTIONS == {ids.WORKFLOW_STEP} == {"create_maxcare_task"}
    step = functions[ids.WORKFLOW_STEP]
    assert step["title"] == "Create MaxCare task" and step["description"]
    inputs, outputs = step["input_parameters"], step["output_parameters"]
    assert tuple(inputs) == ids.STEP_INPUTS
    assert {name: p["type"] for name, p in inputs.items()} == {
        ids.STEP_NOTE_ID: "string",
        ids.STEP_ASSIGNEES: "array",
        ids.STEP_NOTES: "string",
        ids.STEP_CREATOR: "slack#/types/user_id",
        ids.STEP_CHANNEL: "slack#/types/channel_id",
    }
    assert inputs[ids.STEP_ASSIGNEES]["items"] == {"type": "slack#/types/user_id"}
    assert {n for n, p in inputs.items() if p["is_required"]} == set(ids.STEP_REQUIRED)
    assert tuple(outputs) == ids.STEP_OUTPUTS
    assert all(p["type"] == "string" and p["is_required"] for p in outputs.values())
    for name, parameter in {**inputs, **outputs}.items():
        assert parameter["name"] == name and parameter["title"] and parameter["description"]


def test_the_step_can_run(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    assert ids.FUNCTION_EXECUTED in settings["event_subscriptions"]["bot_events"]
    assert settings["org_deploy_enabled"] is True  # custom steps need an org-ready app
    assert settings["function_runtime"] == "remote"  # run by this app, not by Slack


async def test_the_manifest_step_is_answered(harness: Harness, manifest: dict[str, Any]) -> None:
    harness.link(NURSE, harness.nurse_provider)
    harness.link(DOCTOR, harness.doctor_provider)
    (callback_id,) = manifest["functions"]
    inputs = {"note_id": harness.maxcare.add_note()["id"], "assignees": [DOCTOR], "notes": "x",
              "creator": NURSE}
    signed = payloads.function_executed(inputs, execution_id="FxMANIFEST", callback_id=callback_id)
    assert (await harness.post(signed)).status_code == 200
    await harness.settle()
    (done,) = harness.slack.completions("FxMANIFEST")
    assert done.method == "functions.completeSuccess"


async def test_every_manifest_shortcut_is_answered(
    harness: Harness, manifest: dict[str, Any]
) -> None:
    harness.link(NURSE, harness.nurse_provider)
    for number, (callback_id, kind) in enumerate(sorted(shortcuts(manifest).items()), start=1):
        if kind == "message":
            signed = payloads.message_action({"text": "plan missing"}, callback_id=callback_id)
        else:
            signed = payloads.global_shortcut(callback_id=callback_id)
        response = await harness.post(signed)
        assert response.status_code == 200, callback_id
        opened = await harness.slack.async_wait_for("views.open", count=number)
        view = opened[-1].params["view"]
        assert view["callback_id"] == ids.CREATE_TASK_VIEW, callback_id
        blocks = {b.get("block_id") for b in view["blocks"]}
        assert (ids.DESTINATION_BLOCK in blocks) == (kind == "global"), callback_id


async def test_manifest_slash_command_is_answered(
    harness: Harness, manifest: dict[str, Any]
) -> None:
    harness.link(NURSE, harness.nurse_provider)
    command = manifest["features"]["slash_commands"][0]["command"]
    response = await harness.post(payloads.slash_command("", command=command))
    assert response.status_code == 200
    opened = await harness.slack.async_wait_for("views.open")
    assert opened[0].params["view"]["callback_id"] == ids.CREATE_TASK_VIEW


async def test_an_undeclared_shortcut_opens_nothing(harness: Harness) -> None:
    # The check above can fail: a callback the code does not listen for opens no form.
    harness.link(NURSE, harness.nurse_provider)
    await harness.post(payloads.global_shortcut(callback_id="not_in_manifest"))
    await harness.post(
        payloads.message_action({"text": "x"}, callback_id="also_not_in_manifest")
    )
    await harness.post(payloads.slash_command("", command="/task"))  # a marker call after them
    opened = await harness.slack.async_wait_for("views.open")
    assert len(opened) == 1
    blocks = {b.get("block_id") for b in opened[0].params["view"]["blocks"]}
    assert ids.DESTINATION_BLOCK not in blocks


async def test_every_registered_listener_asks_only_for_what_bolt_injects(
    harness: Harness,
) -> None:
    # Bolt injects by parameter name: a misspelt one arrives as None with only a warning, and a
    # keyword-only one never arrives. Each listener is a bound method of its feature's class.
    listeners = [listener.ack_function for listener in harness.bot.app._async_listeners]
    assert all(inspect.ismethod(function) for function in listeners), listeners
    features = {type(function.__self__).__name__ for function in listeners}
    assert features == {
        "TaskListeners", "StatusListeners", "HomeListeners", "LinkListeners", "WorkflowListeners",
    }
    for function in listeners:
        spec = inspect.getfullargspec(inspect.unwrap(function))
        assert spec.args[0] == "self", function  # the one Bolt skips
        assert set(spec.args[1:]) <= BOLT_ARGUMENTS, (function, spec.args)
        assert not spec.kwonlyargs and spec.varargs is None and spec.varkw is None, function


def test_the_install_asks_for_the_manifests_bot_scopes(manifest: dict[str, Any]) -> None:
    assert list(ids.BOT_SCOPES) == manifest["oauth_config"]["scopes"]["bot"]
