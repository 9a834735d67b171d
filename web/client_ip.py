"""The visitor's IP address: the socket peer, or `X-Forwarded-For` behind a trusted proxy.

`X-Forwarded-For` is only as honest as whoever appended to it. Each proxy appends the
address that connected to it, so the chain is read from the right: past every hop that is
one of our proxies, the first address that is not is the visitor as our nearest proxy saw
it. Anything further left was written by the visitor and is ignored.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable

from starlette.requests import HTTPConnection

from settings import get_settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def client_ip(connection: HTTPConnection) -> str:
    """The client's address as text, with `TRUSTED_PROXIES` from the settings."""
    return resolve_client_ip(
        peer=connection.client.host if connection.client else "",
        forwarded_for=connection.headers.getlist("x-forwarded-for"),
        trusted=trusted_networks(get_settings().trusted_proxies),
    )


def resolve_client_ip(peer: str, forwarded_for: Iterable[str], trusted: tuple[Network, ...]) -> str:
    """The first untrusted hop from the right of `peer` and the forwarded chain.

    A peer that is not a trusted proxy is the client, whatever the header says. When every
    hop is trusted the leftmost one is the best we know; a hop that is not an IP address
    ends the walk at the last address that was.
    """
    peer_address = parse_address(peer)
    if peer_address is None or not _is_trusted(peer_address, trusted):
        return str(peer_address) if peer_address is not None else peer
    hops = [hop for header in forwarded_for for hop in header.split(",") if hop.strip()]
    client = peer_address
    for hop in reversed(hops):
        address = parse_address(hop)
        if address is None:
            break
        client = address
        if not _is_trusted(address, trusted):
            break
    return str(client)


@functools.cache
def trusted_networks(setting: str) -> tuple[Network, ...]:
    """`TRUSTED_PROXIES` parsed: comma-separated addresses or CIDR networks."""
    networks = []
    for item in setting.split(","):
        if not item.strip():
            continue
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            raise ValueError(
                f"TRUSTED_PROXIES: {item.strip()!r} is not an IP address or network; "
                "list addresses or CIDR networks separated by commas"
            ) from None
    return tuple(networks)


def parse_address(text: str) -> Address | None:
    """An address from a peer or a forwarded hop, which may carry a port (`[::1]:80`,
    `10.0.0.1:80`); IPv4-mapped IPv6 addresses are read as the IPv4 address they carry."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_trusted(address: Address, trusted: tuple[Network, ...]) -> bool:
    return any(address.version == network.version and address in network for network in trusted)
