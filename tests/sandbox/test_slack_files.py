"""The loopback Slack's file upload (files_upload_v2's three steps) and downloads."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.plisio import FakePlisio
from sandbox.slack_api import Demo, SlackAPI, SlackWorkspace
from sandbox.snapshot import dump_world, load_world

TOKEN = "xoxb-sandbox-test"
CSV = "call_id,action\r\ndnx_1,received\r\n"


@pytest.fixture
def api() -> SlackAPI:
    return SlackAPI(SlackWorkspace.demo(), bot_token=TOKEN)


@pytest.fixture
async def client(api: SlackAPI) -> AsyncIterator[AsyncWebClient]:
    async with api.serve() as url:
        yield AsyncWebClient(token=TOKEN, base_url=url)


async def test_files_upload_v2_shares_the_file_in_a_dm_with_its_comment(
    api: SlackAPI, client: AsyncWebClient
) -> None:
    opened = await client.conversations_open(users=Demo.FIN_LEAD)
    dm = opened["channel"]["id"]
    result = await client.files_upload_v2(
        channel=dm,
        content=CSV,
        filename="audit.csv",
        title="Audit trail",
        initial_comment="Here it is",
    )
    assert result["file"]["title"] == "Audit trail"
    [message] = api.workspace.channels[dm].visible()
    assert message.text == "Here it is"
    [file] = message.files
    assert (file["name"], file["mimetype"], file["size"]) == ("audit.csv", "text/csv", len(CSV))
    async with httpx.AsyncClient() as http:
        download = await http.get(file["url_private_download"])
    assert download.status_code == 200
    assert download.text == CSV
    assert "attachment" in download.headers["Content-Disposition"]
    # It shows in the channel's history as Slack shows shared files.
    history = await client.conversations_history(channel=dm)
    assert history["messages"][0]["files"][0]["id"] == file["id"]


async def test_complete_without_the_bytes_is_file_not_found(client: AsyncWebClient) -> None:
    reserved = await client.files_getUploadURLExternal(filename="a.csv", length=10)
    assert reserved["upload_url"].startswith("http://127.0.0.1:")
    with pytest.raises(SlackApiError) as raised:
        await client.files_completeUploadExternal(
            files=[{"id": reserved["file_id"], "title": "a"}], channel_id=Demo.FINANCE
        )
    assert raised.value.response["error"] == "file_not_found"


async def test_upload_url_checks_length_and_is_single_use(
    api: SlackAPI, client: AsyncWebClient
) -> None:
    reserved = await client.files_getUploadURLExternal(filename="a.csv", length=3)
    async with httpx.AsyncClient() as http:
        assert (await http.post(reserved["upload_url"], content=b"abcd")).status_code == 200
        with pytest.raises(SlackApiError) as raised:
            await client.files_completeUploadExternal(files=[{"id": reserved["file_id"]}])
        assert raised.value.response["error"] == "file_upload_size_mismatch"
        assert (await http.post(reserved["upload_url"], content=b"abc")).status_code == 200
        await client.files_completeUploadExternal(files=[{"id": reserved["file_id"]}])
        again = await http.post(reserved["upload_url"], content=b"xyz")
        assert again.status_code == 404
        missing = await http.post(reserved["upload_url"] + "nope", content=b"abc")
        assert missing.status_code == 404
    with pytest.raises(SlackApiError):
        await client.files_getUploadURLExternal(filename="a.csv", length=0)


async def test_shared_files_survive_a_snapshot_round_trip(
    api: SlackAPI, client: AsyncWebClient
) -> None:
    await client.files_upload_v2(channel=Demo.FINANCE, content=CSV, filename="audit.csv")
    plisio = FakePlisio("k")
    saved = dump_world(api.workspace, plisio)
    restored = SlackWorkspace.demo()
    load_world(restored, plisio, saved)
    [file] = restored.files.values()
    assert file.content == CSV.encode() and file.completed
    [message] = restored.channels[Demo.FINANCE].visible()
    assert message.files[0]["id"] == file.id
