"""The answer form's submissions over HTTP, acknowledged without Bolt's general dispatch.

An answer is the request many members send at the same instant (a channel answering the day's
question), and all it needs before its acknowledgement is: check the request's signature and
timestamp, parse the form, store the answer (``AnswerService.submit``), and reply with the
receipt. Bolt's dispatch around that (its request object, the middleware chain, matching every
registered listener, a Web API client per request, argument injection) costs more CPU per request
than those steps together. So in single-workspace HTTP mode this module answers the answer form's
``view_submission`` itself: the same check Bolt runs (slack_sdk's ``SignatureVerifier``: HMAC of
the body, timestamp within five minutes; a failure is Bolt's own 401), then the same listener code
(``listeners.views.store_answer`` and ``answer_reply``). A stored answer's reply depends only on
the receipt's status, so its JSON is built once per status and reused. Every other request goes
to Bolt unchanged. With OAuth (many workspaces) Bolt's authorization decides which
workspaces may act, so there every request goes through Bolt.
"""

from __future__ import annotations

import functools
import json
import urllib.parse
from typing import Any

from aiohttp import web
from slack_sdk.signature import SignatureVerifier

from bot.adapters.slack import render
from bot.adapters.slack.bridge import SlackBridge
from bot.adapters.slack.listeners.views import answer_reply, store_answer
from bot.services.answers import Receipt, ReceiptStatus

#: Bolt's reply to a request whose signature or timestamp is wrong.
REFUSED = {"error": "invalid request"}
#: Both appear verbatim (URL-encoded JSON keeps letters and dashes) in an answer submission.
MARKERS = (b"view_submission", render.ANSWER_VIEW.encode())


class AnswerIntake:
    def __init__(self, bridge: SlackBridge, signing_secret: str):
        self.bridge = bridge
        self.verifier = SignatureVerifier(signing_secret)
        #: Submissions answered here (tests read it).
        self.handled = 0

    async def handle(self, request: web.Request) -> web.Response | None:
        """The reply to an answer submission; None for any other request (Bolt's turn)."""
        raw = await request.read()  # aiohttp keeps it: Bolt can read the body again
        if not all(marker in raw for marker in MARKERS):
            return None
        headers = request.headers
        if not self.verifier.is_valid(
            raw, headers.get("X-Slack-Request-Timestamp"), headers.get("X-Slack-Signature")
        ):
            return web.json_response(REFUSED, status=401)
        payload = _payload(raw)
        if payload is None:
            return None
        outcome = await store_answer(self.bridge, payload, payload["view"])
        self.handled += 1
        if isinstance(outcome, Receipt):
            reply = _receipt_reply(outcome.status)
        else:
            reply = json.dumps(answer_reply(outcome)).encode()
        return web.Response(body=reply, content_type="application/json", charset="utf-8")


@functools.lru_cache(maxsize=len(ReceiptStatus))
def _receipt_reply(status: ReceiptStatus) -> bytes:
    """The acknowledgement that turns the form into the receipt (the same for every answer of
    one status)."""
    return json.dumps(answer_reply(Receipt(0, status))).encode()


def _payload(raw: bytes) -> dict[str, Any] | None:
    """The interaction payload when it is the answer form's submission, else None."""
    try:
        form = urllib.parse.parse_qs(raw.decode())
        payload = json.loads(form["payload"][0])
    except (KeyError, IndexError, ValueError):
        return None
    if not isinstance(payload, dict) or payload.get("type") != "view_submission":
        return None
    view = payload.get("view")
    if not isinstance(view, dict) or view.get("callback_id") != render.ANSWER_VIEW:
        return None
    return payload
