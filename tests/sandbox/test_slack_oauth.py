"""The loopback Slack's OAuth install (``oauth.v2.access``), driven through slack_sdk's client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.slack_api import SlackAPI, SlackWorkspace

TOKEN = "xoxb-sandbox-test"
CLIENT_ID = "111.222"
SECRET = "app-secret"
REDIRECT = "https://bot.example.com/slack/oauth_redirect"


@pytest.fixture
async def slack() -> AsyncIterator[tuple[SlackAPI, str]]:
    api = SlackAPI(SlackWorkspace.demo(), bot_token=TOKEN)
    api.oauth.register_app(CLIENT_ID, SECRET)
    async with api.serve() as url:
        yield api, url


async def test_a_code_buys_one_bot_token_of_its_team(slack: tuple[SlackAPI, str]) -> None:
    api, url = slack
    anonymous = AsyncWebClient(base_url=url)
    code = api.oauth.grant("T0OTHER", "Other Co", scope="chat:write", redirect_uri=REDIRECT)

    # Slack takes the client credentials as form fields too (the bot sends HTTP Basic).
    answer = await anonymous.api_call(
        "oauth.v2.access",
        data={
            "client_id": CLIENT_ID,
            "client_secret": SECRET,
            "code": code,
            "redirect_uri": REDIRECT,
        },
    )

    assert answer["team"] == {"id": "T0OTHER", "name": "Other Co"}
    assert answer["token_type"] == "bot"
    assert answer["scope"] == "chat:write"
    token = answer["access_token"]
    assert token.startswith("xoxb-") and token != TOKEN
    who = await AsyncWebClient(token=token, base_url=url).auth_test()
    assert who["team_id"] == "T0OTHER"
    await AsyncWebClient(token=token, base_url=url).chat_postMessage(channel="C0FINANCE", text="hi")
    assert api.calls_to("chat.postMessage")[-1].team == "T0OTHER"

    with pytest.raises(SlackApiError) as reused:  # a code is good once
        await anonymous.api_call(
            "oauth.v2.access",
            data={"client_id": CLIENT_ID, "client_secret": SECRET, "code": code},
        )
    assert reused.value.response["error"] == "invalid_code"


async def test_wrong_credentials_buy_nothing(slack: tuple[SlackAPI, str]) -> None:
    api, url = slack
    anonymous = AsyncWebClient(base_url=url)
    code = api.oauth.grant("T0OTHER", "Other Co")
    with pytest.raises(SlackApiError) as wrong:
        await anonymous.api_call(
            "oauth.v2.access",
            data={"client_id": CLIENT_ID, "client_secret": "guess", "code": code},
        )
    assert wrong.value.response["error"] == "bad_client_secret"
    assert list(api.oauth.tokens) == [TOKEN]
    with pytest.raises(SlackApiError) as forged:
        await AsyncWebClient(token="xoxb-T0OTHER-forged", base_url=url).auth_test()
    assert forged.value.response["error"] == "invalid_auth"
