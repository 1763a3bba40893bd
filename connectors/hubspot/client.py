"""A thin typed client for the few HubSpot CRM endpoints the Account context needs.

Plain httpx on the bot's shared client rather than the ``hubspot-api-client`` SDK: the SDK is
synchronous (urllib3), generated for hundreds of endpoints we never call, and would bring its own
HTTP stack, retries and logging; six read-only calls are clearer written out.

Auth is a private app's access token as ``Authorization: Bearer``. Requests are paced per process
at HubSpot's documented limits: the CRM search endpoints 4 a second, every other call 100 every
10 seconds; a 429 pauses the limiter it came through for its Retry-After.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from connectors.hubspot.errors import HubSpotRefused, HubSpotUnavailable
from connectors.pacing import RateLimiter
from connectors.retry_after import retry_after_seconds as read_retry_after

__all__ = [
    "COMPANY_PROPERTIES",
    "CONTACT_PROPERTIES",
    "DEAL_PROPERTIES",
    "AccountInfo",
    "CrmObject",
    "HubSpotClient",
    "Owner",
    "retry_after_seconds",
]

CONTACT_PROPERTIES = (
    "email",
    "firstname",
    "lastname",
    "company",
    "lifecyclestage",
    "hubspot_owner_id",
    "associatedcompanyid",
)
COMPANY_PROPERTIES = ("name", "domain", "lifecyclestage", "hubspot_owner_id")
DEAL_PROPERTIES = (
    "dealname",
    "dealtype",
    "closedate",
    "amount",
    "dealstage",
    "pipeline",
    "hs_is_closed",
    "deal_currency_code",
)
SEARCH_PER_SECOND = 4  # HubSpot's CRM search limit (per account; paced here per process)
# The search window is kept 10 % longer than a second: requests leave on their slots but arrive
# with network (and event-loop) jitter, and HubSpot counts arrivals. At 5 % the benchmark still
# met 14 of HubSpot's 429s in 300 searches, each stopping every search for its 1 s Retry-After.
SEARCH_WINDOW = 1.1
CALLS_PER_WINDOW, WINDOW_SECONDS = 100, 10.0  # private apps: 100 requests every 10 seconds
DEFAULT_RETRY = 5.0
MAX_RETRY_AFTER = 300.0
BATCH_MAX = 100  # inputs of one batch read
MESSAGE_CHARS = 200


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class CrmObject(_Model):
    """A contact, company or deal: its id and the properties asked for (values as strings)."""

    id: str
    properties: dict[str, str | None] = Field(default_factory=dict)
    archived: bool = False

    def prop(self, name: str) -> str | None:
        value = self.properties.get(name)
        return value.strip() or None if isinstance(value, str) else None


class Owner(_Model):
    id: str
    email: str | None = None
    first_name: str | None = Field(default=None, alias="firstName")
    last_name: str | None = Field(default=None, alias="lastName")

    @property
    def name(self) -> str | None:
        parts = [p for p in (self.first_name, self.last_name) if p]
        return " ".join(parts) or self.email


class AccountInfo(_Model):
    portal_id: int = Field(alias="portalId")
    ui_domain: str = Field(default="app.hubspot.com", alias="uiDomain")


class _Results(_Model):
    results: list[CrmObject] = Field(default_factory=list)


class _AssociationTarget(_Model):
    to_object_id: int | str = Field(alias="toObjectId")


class _Associations(_Model):
    results: list[_AssociationTarget] = Field(default_factory=list)


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header (seconds or an HTTP date) in seconds, capped; None when absent."""
    seconds = read_retry_after(value)
    return None if seconds is None else min(MAX_RETRY_AFTER, seconds)


def _error_body(response: httpx.Response) -> Mapping[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, Mapping) else {}


def _missing_scopes(body: Mapping[str, Any]) -> list[str]:
    """The scopes a MISSING_SCOPES answer names (``errors[].context.requiredGranularScopes``)."""
    scopes: list[str] = []
    for error in body.get("errors") or ():
        context = error.get("context") if isinstance(error, Mapping) else None
        if not isinstance(context, Mapping):
            continue
        for key in ("requiredGranularScopes", "requiredScopes", "requiredScope"):
            for scope in context.get(key) or ():
                if isinstance(scope, str) and scope not in scopes:
                    scopes.append(scope)
    return scopes


class HubSpotClient:
    """The HubSpot calls of the Account context, paced and with errors mapped to two kinds."""

    def __init__(
        self,
        access_token: str,
        *,
        http: httpx.AsyncClient,
        base_url: str = "https://api.hubapi.com",
        search_limiter: RateLimiter | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        if not access_token:
            raise ValueError("a HubSpot access token is required")
        self._token = access_token
        self._http = http
        self._base = base_url.rstrip("/")
        self.search_limiter = search_limiter or RateLimiter(SEARCH_PER_SECOND, SEARCH_WINDOW)
        self.limiter = limiter or RateLimiter(CALLS_PER_WINDOW, WINDOW_SECONDS)

    def __repr__(self) -> str:
        return f"HubSpotClient(base_url={self._base!r}, access_token=***)"

    async def _call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        search: bool = False,
        not_found_ok: bool = False,
    ) -> Any:
        limiter = self.search_limiter if search else self.limiter
        await limiter.wait()
        try:
            response = await self._http.request(
                method,
                self._base + path,
                json=json,
                params=params,
                headers={
                    "Authorization": f"Bearer {self._token}",
                    "Accept": "application/json",
                },
            )
        except httpx.TimeoutException:
            raise HubSpotUnavailable(f"HubSpot did not answer in time ({what})") from None
        except httpx.HTTPError as exc:
            raise HubSpotUnavailable(
                f"could not reach HubSpot ({what}): {exc.__class__.__name__}"
            ) from None
        status = response.status_code
        if status < 300:
            try:
                return response.json()
            except ValueError:
                raise HubSpotUnavailable(f"HubSpot's answer was not JSON ({what})") from None
        if status == 404 and not_found_ok:
            return None
        body = _error_body(response)
        message = str(body.get("message") or response.reason_phrase or "")[:MESSAGE_CHARS]
        if status == 429 or status >= 500:
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            if status == 429:
                limiter.pause(wait if wait is not None else 1.0)
            raise HubSpotUnavailable(
                f"HubSpot answered {status} ({what}){': ' + message if message else ''}",
                retry_after=wait if wait is not None else DEFAULT_RETRY,
            )
        category = body.get("category") if isinstance(body.get("category"), str) else None
        if status == 401:
            raise HubSpotRefused(
                "HubSpot refused the access token (401): check HUBSPOT_ACCESS_TOKEN",
                status=status,
                category=category,
            )
        if status == 403 and category == "MISSING_SCOPES":
            scopes = _missing_scopes(body)
            named = ", ".join(scopes) if scopes else "a scope it did not name"
            raise HubSpotRefused(
                f"HubSpot refused to read {what}: the private app is missing the scope "
                f"{named} (403)",
                status=status,
                category=category,
            )
        raise HubSpotRefused(
            f"HubSpot refused to read {what}: {status}{' ' + message if message else ''}",
            status=status,
            category=category,
        )

    @staticmethod
    def _parse(model: type[_Model], data: Any, what: str) -> Any:
        try:
            return model.model_validate(data)
        except ValidationError:
            raise HubSpotUnavailable(
                f"HubSpot's answer did not have the expected shape ({what})"
            ) from None

    async def account(self) -> AccountInfo:
        """The portal id and app domain (for links to records): ``GET /account-info/v3/details``."""
        data = await self._call("GET", "/account-info/v3/details", "the account details")
        parsed: AccountInfo = self._parse(AccountInfo, data, "the account details")
        return parsed

    async def contact_by_email(self, email: str) -> CrmObject | None:
        """The contact with this email (``POST /crm/v3/objects/contacts/search``), or None."""
        body = {
            "filterGroups": [
                {"filters": [{"propertyName": "email", "operator": "EQ", "value": email}]}
            ],
            "properties": list(CONTACT_PROPERTIES),
            "limit": 1,
        }
        data = await self._call(
            "POST", "/crm/v3/objects/contacts/search", "the contact", json=body, search=True
        )
        found: _Results = self._parse(_Results, data, "the contact")
        return found.results[0] if found.results else None

    async def associated(self, contact_id: str, to: str) -> list[str]:
        """Ids of the ``to`` objects (companies, deals) associated with a contact (v4)."""
        data = await self._call(
            "GET",
            f"/crm/v4/objects/contacts/{contact_id}/associations/{to}",
            f"the contact's {to}",
            params={"limit": "500"},
        )
        parsed: _Associations = self._parse(_Associations, data, f"the contact's {to}")
        return [str(r.to_object_id) for r in parsed.results]

    async def company(self, company_id: str) -> CrmObject | None:
        data = await self._call(
            "GET",
            f"/crm/v3/objects/companies/{company_id}",
            "the company",
            params={"properties": ",".join(COMPANY_PROPERTIES)},
            not_found_ok=True,
        )
        return None if data is None else self._parse(CrmObject, data, "the company")

    async def deals(self, deal_ids: Sequence[str]) -> list[CrmObject]:
        """The deals by id (``POST /crm/v3/objects/deals/batch/read``), 100 at a time."""
        deals: list[CrmObject] = []
        for start in range(0, len(deal_ids), BATCH_MAX):
            body = {
                "properties": list(DEAL_PROPERTIES),
                "inputs": [{"id": i} for i in deal_ids[start : start + BATCH_MAX]],
            }
            data = await self._call(
                "POST", "/crm/v3/objects/deals/batch/read", "the deals", json=body
            )
            parsed: _Results = self._parse(_Results, data, "the deals")
            deals += [d for d in parsed.results if not d.archived]
        return deals

    async def owner(self, owner_id: str) -> Owner | None:
        data = await self._call("GET", f"/crm/v3/owners/{owner_id}", "the owner", not_found_ok=True)
        return None if data is None else self._parse(Owner, data, "the owner")
