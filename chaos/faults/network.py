"""Network faults on a link, through toxiproxy: the seven toxics, and `down` (proxy disabled)."""

from __future__ import annotations

import functools
import uuid
from typing import Any, ClassVar, Literal

from pydantic import Field

from chaos.faults import register, register_undo
from chaos.faults.base import Fault, FaultContext, FaultError, Undo, match_links
from chaos.faults.landing import Probe
from chaos.stack import Stack


class _LinkFault(Fault):
    link: str = Field(description="link name or pattern, e.g. 'run-pool -> telemetry-collector', '*->broker'")

    def resolve(self, stack: Stack, allow_hosts: list[str]) -> list[str]:
        found = match_links(stack, self.link)
        if not found:
            known = ", ".join(stack.link_name(s, link) for s, link in stack.links()) or "none"
            raise FaultError(f"no link matches {self.link!r} (links: {known})", "link")
        return found


    def probe(self, ctx: FaultContext) -> Probe:
        from chaos.faults.link_landing import LinkProbe

        return LinkProbe(ctx, self.resolve(ctx.stack, ctx.allow_hosts))


class _ToxicFault(_LinkFault):
    stream: Literal["downstream", "upstream", "both"] = Field(
        "downstream", description="downstream: dependency -> caller; upstream: caller -> dependency; both")
    toxicity: float = Field(1.0, ge=0.0, le=1.0, description="share of connections affected (drawn per connection)")
    toxic_type: ClassVar[str] = ""

    def attributes(self) -> dict[str, Any]:
        raise NotImplementedError

    def inject(self, ctx: FaultContext) -> list[int]:
        from chaos.components.toxiproxy import Toxic

        client = ctx.toxiproxy
        streams = ["upstream", "downstream"] if self.stream == "both" else [self.stream]
        ids = []
        for proxy in self.resolve(ctx.stack, ctx.allow_hosts):
            for stream in streams:
                name = f"chaosgate-{ctx.run_id}-{self.toxic_type}-{stream[0]}-{uuid.uuid4().hex[:8]}"
                toxic = Toxic(name=name, type=self.toxic_type, stream=stream, toxicity=self.toxicity,
                              attributes=self.attributes())
                undo = RemoveToxic(url=client.url, proxy=proxy, toxic=name)
                ids.append(ctx.apply(self, proxy, undo, functools.partial(client.add_toxic, proxy, toxic)))
        return ids


@register("network.latency")
class Latency(_ToxicFault):
    """Delays the data through the link by `latency_ms`, give or take `jitter_ms`: a slow dependency."""

    type: Literal["network.latency"]
    toxic_type: ClassVar[str] = "latency"
    latency_ms: int = Field(ge=0, description="milliseconds added to the data passing, in each direction faulted")
    jitter_ms: int = Field(0, ge=0, description="the delay varies at random by up to this many milliseconds, "
                                                "either way")

    def attributes(self) -> dict[str, Any]:
        return {"latency": self.latency_ms, "jitter": self.jitter_ms}


@register("network.timeout")
class Timeout(_ToxicFault):
    """Stops data; closes after timeout_ms, or with 0 holds the call open: a hanging dependency.

    Both streams by default: held on one stream only, a dependency that closes the connection
    after answering (HTTP/1.0, `Connection: close`) ends the call through the proxy at once."""

    type: Literal["network.timeout"]
    toxic_type: ClassVar[str] = "timeout"
    stream: Literal["downstream", "upstream", "both"] = Field(
        "both", description="both (default): the call is held whatever the dependency does with its connection")
    timeout_ms: int = Field(0, ge=0, description="0: hold the call until the fault ends; else close it after this")

    def attributes(self) -> dict[str, Any]:
        return {"timeout": self.timeout_ms}

    def warnings(self) -> list[tuple[str, str]]:
        if self.timeout_ms == 0 and self.stream == "downstream":
            return [("stream", "a hang on the downstream stream alone does not hold a call whose dependency closes "
                               "the connection after answering: the close passes through; use stream: both")]
        return []

    def probe(self, ctx: FaultContext) -> Probe:
        from chaos.faults.link_landing import LinkProbe

        return LinkProbe(ctx, self.resolve(ctx.stack, ctx.allow_hosts), hang=self.timeout_ms == 0)


@register("network.bandwidth")
class Bandwidth(_ToxicFault):
    """Limits each connection through the link to `rate_kbps` kilobytes per second: a congested link."""

    type: Literal["network.bandwidth"]
    toxic_type: ClassVar[str] = "bandwidth"
    rate_kbps: int = Field(ge=0, description="KB per second, per connection and direction faulted")

    def attributes(self) -> dict[str, Any]:
        return {"rate": self.rate_kbps}


@register("network.slow_close")
class SlowClose(_ToxicFault):
    """Holds back the close of each connection through the link by `delay_ms`: a peer slow to hang up."""

    type: Literal["network.slow_close"]
    toxic_type: ClassVar[str] = "slow_close"
    delay_ms: int = Field(ge=0, description="milliseconds a close by the sending side is held back before "
                                          "it is passed on")

    def attributes(self) -> dict[str, Any]:
        return {"delay": self.delay_ms}


@register("network.reset_peer")
class ResetPeer(_ToxicFault):
    """Resets connections through the link (TCP RST: "connection reset by peer"), at once or after `timeout_ms`."""

    type: Literal["network.reset_peer"]
    toxic_type: ClassVar[str] = "reset_peer"
    timeout_ms: int = Field(0, ge=0, description="0: reset a connection when its first data arrives; else this "
                                                 "many milliseconds after that")

    def attributes(self) -> dict[str, Any]:
        return {"timeout": self.timeout_ms}


@register("network.slicer")
class Slicer(_ToxicFault):
    """Cuts the data through the link into small pieces, optionally delayed: fragmented reads for the peer."""

    type: Literal["network.slicer"]
    toxic_type: ClassVar[str] = "slicer"
    average_size: int = Field(ge=1, description="bytes in a slice, on average")
    size_variation: int = Field(0, ge=0, description="bytes a slice's size varies by at random (keep it below "
                                                     "average_size)")
    delay_us: int = Field(0, ge=0, description="microseconds between slices")

    def attributes(self) -> dict[str, Any]:
        return {"average_size": self.average_size, "size_variation": self.size_variation, "delay": self.delay_us}


@register("network.limit_data")
class LimitData(_ToxicFault):
    """Closes each connection through the link once it has carried `bytes`: a connection cut mid-transfer."""

    type: Literal["network.limit_data"]
    toxic_type: ClassVar[str] = "limit_data"
    bytes: int = Field(ge=0, description="bytes a connection passes, in each direction faulted, before it is closed")

    def attributes(self) -> dict[str, Any]:
        return {"bytes": self.bytes}


@register("network.down")
class Down(_LinkFault):
    """The link refuses connections (toxiproxy's proxy disabled; existing ones are closed)."""

    type: Literal["network.down"]

    def inject(self, ctx: FaultContext) -> list[int]:
        client = ctx.toxiproxy
        return [ctx.apply(self, proxy, EnableProxy(url=client.url, proxy=proxy),
                          functools.partial(client.set_enabled, proxy, False))
                for proxy in self.resolve(ctx.stack, ctx.allow_hosts)]

    def probe(self, ctx: FaultContext) -> Probe:
        from chaos.faults.link_landing import LinkProbe

        return LinkProbe(ctx, self.resolve(ctx.stack, ctx.allow_hosts), down=True)


def _client(url: str):
    from chaos.components.toxiproxy import ToxiproxyClient  # at use: validating needs no HTTP client

    return ToxiproxyClient(url)


class _ProxyUndo(Undo):
    url: str = Field(description="the toxiproxy API")
    proxy: str


@register_undo
class RemoveToxic(_ProxyUndo):
    """Remove one toxic from a proxy."""

    kind: Literal["toxiproxy.remove_toxic"] = "toxiproxy.remove_toxic"
    toxic: str

    def rollback(self) -> None:
        _client(self.url).remove_toxic(self.proxy, self.toxic)

    def remaining(self) -> str | None:
        proxy = _client(self.url).proxies().get(self.proxy)
        if proxy and any(t.name == self.toxic for t in proxy.toxics):
            return f"toxic {self.toxic} still on {self.proxy}"
        return None


@register_undo
class EnableProxy(_ProxyUndo):
    """Enable a proxy that `network.down` disabled."""

    kind: Literal["toxiproxy.enable"] = "toxiproxy.enable"

    def rollback(self) -> None:
        _client(self.url).set_enabled(self.proxy, True)

    def remaining(self) -> str | None:
        proxy = _client(self.url).proxies().get(self.proxy)
        return f"proxy {self.proxy} still disabled" if proxy and not proxy.enabled else None


@register_undo
class DeleteProxy(_ProxyUndo):
    """Delete a proxy chaosgate created (the load's entry for remote workers)."""

    kind: Literal["toxiproxy.delete_proxy"] = "toxiproxy.delete_proxy"

    def rollback(self) -> None:
        _client(self.url).delete_proxy(self.proxy)  # a missing proxy is fine: the goal is that it is gone

    def remaining(self) -> str | None:
        return f"proxy {self.proxy} still there" if self.proxy in _client(self.url).proxies() else None
