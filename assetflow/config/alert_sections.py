"""``[[alerts]]`` of ``assets.toml``: one sink told about failures, freshness violations and
recoveries (see :mod:`assetflow.alerts`); part of :class:`~assetflow.config.models.ProjectConfig`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, field_validator, model_validator

from assetflow.config.fields import (
    SECRET_KEYS,
    EnvName,
    Problems,
    Section,
    Text,
    Url,
    positive_float,
    raise_any,
)

__all__ = ["PAGERDUTY_EVENTS_URL", "AlertEvent", "AlertSection"]

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"

AlertEvent = Literal["failure", "freshness", "recovered"]


class AlertSection(Section):
    """``[[alerts]]``: a sink told about failures, freshness violations and recoveries.

    Secrets never sit in the file: ``url_env`` and ``routing_key_env`` name environment
    variables. A pagerduty sink posts to :data:`PAGERDUTY_EVENTS_URL` unless given a URL.
    """

    kind: Literal["slack", "pagerduty", "webhook"]
    on: list[AlertEvent] = ["failure"]
    url: Url | None = None
    url_env: EnvName | None = None
    routing_key_env: EnvName | None = None
    name: Text | None = None
    timeout: Annotated[float, BeforeValidator(positive_float)] = 10.0

    @classmethod
    def _prepare(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        pagerduty = data.get("kind") == "pagerduty"
        problems: Problems = []
        for key in SECRET_KEYS:
            if key in data:
                variant = "routing_key_env" if pagerduty or key == "routing_key" else "url_env"
                why = "secrets do not belong in assets.toml; put this one in an environment"
                problems.append(((key,), f'{why} variable and set {variant} = "VARIABLE_NAME"'))
        raise_any(problems)
        if pagerduty and "url" not in data and "url_env" not in data:
            data = {**data, "url": PAGERDUTY_EVENTS_URL}
        return data

    @field_validator("on")
    @classmethod
    def _events(cls, events: list[AlertEvent]) -> list[AlertEvent]:
        if not events:
            raise ValueError("expected at least one of 'failure', 'freshness', 'recovered'")
        raise_any([((i,), f"{e!r} listed twice") for i, e in enumerate(events) if e in events[:i]])
        return events

    @model_validator(mode="after")
    def _sink_settings(self) -> AlertSection:
        problems: Problems = []
        if self.url is not None and self.url_env is not None:
            problems.append((("url",), "give either url or url_env, not both"))
        holding = "(the environment variable holding the"
        if self.kind == "pagerduty" and self.routing_key_env is None:
            needs = f'needs routing_key_env = "VARIABLE_NAME" {holding} routing key)'
            problems.append(((), f"a pagerduty alert {needs}"))
        if self.kind != "pagerduty" and self.url is None and self.url_env is None:
            needs = f'needs url_env = "VARIABLE_NAME" {holding} webhook URL) or url'
            problems.append(((), f"a {self.kind} alert {needs}"))
        if self.kind != "pagerduty" and self.routing_key_env is not None:
            problems.append((("routing_key_env",), 'only used with kind = "pagerduty"'))
        raise_any(problems)
        return self
