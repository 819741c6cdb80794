"""Webhook ingress: `POST /http/<topic>` for each registered topic (open to anyone; the
topic's validator decides), published to the events service."""

from __future__ import annotations

import codecs
from collections.abc import Mapping, Sequence
from email.message import Message
from typing import Any

import msgspec
from backstage_common.errors import BackstageError, InputError
from backstage_plugin_events_node import (
    EventParams,
    EventsService,
    HttpBodyParser,
    HttpPostIngressOptions,
    ParsedBody,
    RawBody,
    RequestDetails,
    RequestRejectionDetails,
)
from litestar import Request, Response, post
from litestar.types import ControllerRouterHandler

__all__ = ["UnsupportedCharsetError", "UnsupportedMediaTypeError", "ingress_routes", "json_parser"]

BODY_LIMIT = 5 * 1024 * 1024


class UnsupportedMediaTypeError(BackstageError):
    """415: no parser for the request's media type."""

    status_code = 415


class UnsupportedCharsetError(BackstageError):
    """415: the body's charset is unknown."""

    status_code = 415


async def json_parser(body: bytes, media_type: str, charset: str | None) -> ParsedBody:
    """The built-in parser of `application/json` bodies.

    Args:
        body: the raw bytes.
        media_type: always `application/json` here.
        charset: the `charset` parameter; UTF-8 when None.
    """
    encoding = charset or "utf-8"
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise UnsupportedCharsetError(f'Unsupported charset: "{encoding}"') from None
    try:
        text = body.decode(encoding)
        parsed = msgspec.json.decode(text)
    except (UnicodeDecodeError, msgspec.DecodeError) as error:
        # Backstage answers 500 here; a sender's bad body is its own error: 400
        raise InputError(f"Invalid {media_type} body: {error}") from None
    return ParsedBody(body_parsed=parsed, body_buffer=body, encoding=encoding)


def _content_type(request: Request[Any, Any, Any]) -> tuple[str, str | None]:
    header = request.headers.get("content-type")
    if not header:
        raise InputError("Missing Content-Type header")  # 500 in Backstage; bad input here
    message = Message()
    message["content-type"] = header
    charset = message.get_param("charset")
    return message.get_content_type(), charset if isinstance(charset, str) else None


def _headers(request: Request[Any, Any, Any]) -> dict[str, str | list[str]]:
    headers: dict[str, str | list[str]] = {}
    for name, value in request.headers.multi_items():
        key = name.lower()
        existing = headers.get(key)
        if existing is None:
            headers[key] = value
        elif isinstance(existing, list):
            existing.append(value)
        else:
            headers[key] = [existing, value]
    return headers


class _Validation:
    def __init__(self) -> None:
        self.rejection: RequestRejectionDetails | None = None

    def reject(self, details: RequestRejectionDetails | None = None) -> None:
        self.rejection = details or RequestRejectionDetails()


def ingress_routes(
    ingresses: Mapping[str, HttpPostIngressOptions],
    parsers: Mapping[str, HttpBodyParser],
    events: EventsService,
) -> Sequence[ControllerRouterHandler]:
    """One handler per topic: an unregistered topic has no route (404)."""

    def handler(options: HttpPostIngressOptions) -> ControllerRouterHandler:
        @post(
            f"/http/{options.topic}",
            request_max_body_size=BODY_LIMIT,
            name=f"events-http-{options.topic}",
            status_code=202,
        )
        async def ingress(request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
            raw = await request.body()
            media_type, charset = _content_type(request)
            parser = parsers.get(media_type)
            if parser is None:
                raise UnsupportedMediaTypeError(
                    f"Unsupported media type: {media_type}. You need to provide a custom body "
                    f"parser for this media type via the events extension point"
                )
            parsed = await parser(raw, media_type, charset)
            headers = _headers(request)
            if options.validator is not None:
                validation = _Validation()
                details = RequestDetails(
                    body=parsed.body_parsed,
                    headers=headers,
                    raw=RawBody(body=parsed.body_buffer, encoding=parsed.encoding),
                )
                await options.validator(details, validation)
                if validation.rejection is not None:
                    return Response(
                        dict(validation.rejection.payload),
                        status_code=validation.rejection.status,
                    )
            await events.publish(
                EventParams(topic=options.topic, event_payload=parsed.body_parsed, metadata=headers)
            )
            return Response({"status": "accepted"}, status_code=202)

        return ingress

    return [handler(options) for options in ingresses.values()]
