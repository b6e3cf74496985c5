"""OpenTelemetry for session events: ``event_hooks=[OpenTelemetryHook()]``.

Needs ``opentelemetry-api`` (``pip install "dualsessions[otel]"``) and, to export anything, an SDK
configured by the application. Each event

- is counted on one counter, ``dualsessions.session.events``, with the attributes
  ``dualsessions.event`` (its kind), ``dualsessions.frontend``, ``dualsessions.store`` and, for
  rejections, ``dualsessions.reject_reason``: a count per kind, per front end, per reason, with no
  attribute that grows with the number of sessions or users;
- is added as a span event named ``dualsessions.session.<kind>`` to the current span (the request's
  server span that an ASGI/WSGI/Flask instrumentation starts, or the script's own), with the same
  attributes plus ``dualsessions.session.ref``, ``dualsessions.session.previous_ref`` for a
  regeneration, and ``enduser.id`` when the user is known. Nothing is recorded when no span is
  current and recording: a session event lasts microseconds inside a request, so it is a point on that
  request's span, not a span of its own.
"""

from __future__ import annotations

try:
    from opentelemetry import metrics, trace
except ImportError as exc:  # pragma: no cover - the extra is installed wherever the tests run
    raise ImportError("dualsessions.otel needs opentelemetry-api: pip install 'dualsessions[otel]'") from exc

from .events import SessionEvent, SessionRegenerated, SessionRejected, SessionRevoked

__all__ = ["COUNTER", "OpenTelemetryHook"]

#: The counter's name.
COUNTER = "dualsessions.session.events"

Attributes = dict[str, str | int]


class OpenTelemetryHook:
    """An event hook recording each session event as a counter increment and a span event.

    ``meter_provider``: where the counter lives (default: the global one, as set by the application's
    OpenTelemetry setup). Span events go to the current span, whichever provider made it.
    """

    __slots__ = ("_counter",)

    def __init__(self, *, meter_provider: metrics.MeterProvider | None = None) -> None:
        meter = metrics.get_meter("dualsessions", meter_provider=meter_provider)
        self._counter = meter.create_counter(
            COUNTER, unit="{event}", description="Session events: created, loaded, saved, ended, ..."
        )

    def __call__(self, event: SessionEvent) -> None:
        attributes: Attributes = {
            "dualsessions.event": event.kind,
            "dualsessions.frontend": event.frontend,
            "dualsessions.store": event.store,
        }
        if isinstance(event, SessionRejected):
            attributes["dualsessions.reject_reason"] = event.reason.value
        self._counter.add(1, attributes)
        span = trace.get_current_span()
        if not span.is_recording():
            return
        # A dict of its own: an SDK may keep the counter's (1.20 does), which must not grow per user.
        details: Attributes = dict(attributes)
        if event.ref is not None:
            details["dualsessions.session.ref"] = event.ref
        if isinstance(event, SessionRegenerated):
            details["dualsessions.session.previous_ref"] = event.previous_ref
        if isinstance(event, SessionRevoked):
            details["dualsessions.revoked_count"] = event.count
        if event.user is not None:
            details["enduser.id"] = event.user
        span.add_event(f"dualsessions.session.{event.kind}", details)
