"""Zoom meetings through Zoom's REST API, with a Server-to-Server OAuth app's credentials.

Such an app's access token lasts an hour: it is fetched when first needed, fetched again a
minute before it runs out, and once more if Zoom answers 401 (revoked early). A static
token (`zoom_token`) is still accepted, for a user who manages tokens elsewhere. Start
times go out in UTC with a `Z`, so Zoom cannot read them in another time zone."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from services.executor.common import ToolError

MEETINGS_API = "https://api.zoom.us/v2/users/me/meetings"
TOKEN_API = "https://zoom.us/oauth/token"
REFRESH_BEFORE_S = 60.0
NOT_SET_UP = ("Zoom is not set up: in config/pippin.toml, under [executor], set zoom_account_id, zoom_client_id "
              "and zoom_client_secret (a Server-to-Server OAuth app from Zoom's App Marketplace, with the "
              "meeting:write scope), or zoom_token")


@dataclass(frozen=True)
class ZoomSettings:
    account_id: str = ""
    client_id: str = ""
    client_secret: str = ""
    token: str = ""  # a static token instead of the app's credentials

    @classmethod
    def from_config(cls, executor: dict[str, Any]) -> ZoomSettings:
        return cls(*(str(executor.get(f"zoom_{k}") or "") for k in ("account_id", "client_id", "client_secret",
                                                                      "token")))

    @property
    def configured(self) -> bool:
        return bool(self.token or (self.account_id and self.client_id and self.client_secret))


def post_json(url: str, headers: dict[str, str], body: bytes | None, timeout_s: float) -> dict[str, Any]:
    """POST and read a JSON answer; HTTP errors come back as urllib's HTTPError."""
    req = urllib.request.Request(url, data=body if body is not None else b"", method="POST", headers=headers)
    with urllib.request.urlopen(req, timeout=timeout_s) as resp:
        return dict(json.load(resp))


Poster = Callable[[str, dict[str, str], "bytes | None", float], dict[str, Any]]


class ZoomClient:
    def __init__(self, settings: ZoomSettings, *, meetings_api: str = MEETINGS_API, token_api: str = TOKEN_API,
                 timeout_s: float = 30.0, post: Poster = post_json,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.meetings_api = meetings_api
        self.token_api = token_api
        self.timeout_s = timeout_s
        self._post = post
        self._clock = clock
        self._token = ""
        self._expires = 0.0
        self.fetches = 0  # tokens fetched, for tests and status

    def token(self) -> str:
        if self.settings.token:
            return self.settings.token
        if self._token and self._clock() < self._expires - REFRESH_BEFORE_S:
            return self._token
        basic = base64.b64encode(f"{self.settings.client_id}:{self.settings.client_secret}".encode()).decode()
        url = f"{self.token_api}?" + urlencode({"grant_type": "account_credentials",
                                                "account_id": self.settings.account_id})
        try:
            got = self._post(url, {"Authorization": f"Basic {basic}"}, None, self.timeout_s)
        except urllib.error.HTTPError as e:
            raise ToolError(f"Zoom refused the app's credentials (HTTP {e.code}): check zoom_account_id, "
                            "zoom_client_id and zoom_client_secret in config/pippin.toml") from None
        except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as e:
            raise ToolError(f"could not reach Zoom: {e}") from None
        self.fetches += 1
        self._token = str(got.get("access_token") or "")
        if not self._token:
            raise ToolError("Zoom answered without an access token")
        self._expires = self._clock() + float(got.get("expires_in") or 3600)
        return self._token

    def create_meeting(self, topic: str, start: dt.datetime, duration_min: int, invitees: list[str]) -> str:
        """The join link of a new scheduled meeting; `start` is the Mac's local time."""
        if not self.settings.configured:
            raise ToolError(NOT_SET_UP)
        utc = start.astimezone(dt.UTC)  # a naive time is read as the Mac's local time
        body = json.dumps({"topic": topic, "type": 2, "start_time": utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
                           "duration": duration_min,
                           "settings": {"meeting_invitees": [{"email": e} for e in invitees]}}).encode()
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self.token()}", "Content-Type": "application/json"}
            try:
                return str(self._post(self.meetings_api, headers, body, self.timeout_s)["join_url"])
            except urllib.error.HTTPError as e:
                if e.code == 401 and attempt == 1 and not self.settings.token:
                    self._token = ""  # revoked or expired early: one new token, one more try
                    continue
                hint = " (the token has expired or lacks the meeting:write scope)" if e.code == 401 else ""
                raise ToolError(f"Zoom refused the meeting: HTTP {e.code} {e.reason}{hint}") from None
            except (urllib.error.URLError, TimeoutError, KeyError, json.JSONDecodeError) as e:
                raise ToolError(f"could not reach Zoom: {e}") from None
        raise AssertionError("unreachable")
