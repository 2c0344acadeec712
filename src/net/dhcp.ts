/**
 * The DHCP messages of a tiny server (RFC 2131/2132): enough for udhcpc, dhclient and
 * systemd-networkd to get an address, mask, router, DNS server and lease time, as QEMU's
 * user-mode network hands them out.
 */
import { get16, get32, put16, put32 } from './bytes.ts';

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
const MAGIC = 0x63825363;
export const DHCPDISCOVER = 1;
export const DHCPOFFER = 2;
export const DHCPREQUEST = 3;
export const DHCPDECLINE = 4;
export const DHCPACK = 5;
export const DHCPNAK = 6;
export const DHCPRELEASE = 7;
export const DHCPINFORM = 8;

export interface DhcpRequest {
  type: number;
  xid: number;
  flags: number;
  ciaddr: number;
  chaddr: Uint8Array;
  requestedIp?: number;
  serverId?: number;
}

/** Parses a client message (BOOTREQUEST with the DHCP magic and a message type); a string says why not. */
export function parseDhcp(b: Uint8Array): DhcpRequest | string {
  if (b.length < 240) return 'dhcp: truncated';
  if (b[0] !== 1 || b[1] !== 1 || b[2] !== 6) return 'dhcp: not an Ethernet BOOTREQUEST';
  if (get32(b, 236) !== MAGIC) return 'dhcp: no magic cookie';
  const req: DhcpRequest = {
    type: 0,
    xid: get32(b, 4),
    flags: get16(b, 10),
    ciaddr: get32(b, 12),
    chaddr: b.slice(28, 34),
  };
  let i = 240;
  while (i < b.length) {
    const code = b[i]!;
    if (code === 255) break;
    if (code === 0) {
      i++;
      continue;
    }
    if (i + 1 >= b.length) break;
    const len = b[i + 1]!;
    const v = i + 2;
    if (v + len > b.length) return 'dhcp: option runs past the end';
    if (code === 53 && len === 1) req.type = b[v]!;
    else if (code === 50 && len === 4) req.requestedIp = get32(b, v);
    else if (code === 54 && len === 4) req.serverId = get32(b, v);
    i = v + len;
  }
  if (req.type === 0) return 'dhcp: no message type';
  return req;
}

export interface DhcpLease {
  ip: number;
  mask: number;
  router: number;
  dns: number;
  server: number;
  leaseSeconds: number;
  domain?: string;
}

/** Builds a server reply (OFFER, ACK or NAK) to `req`. */
export function buildDhcpReply(type: number, req: DhcpRequest, lease: DhcpLease): Uint8Array {
  const b = new Uint8Array(548); // minimum BOOTP size clients expect, options included
  b[0] = 2;
  b[1] = 1;
  b[2] = 6;
  put32(b, 4, req.xid);
  put16(b, 10, req.flags);
  if (type !== DHCPNAK) put32(b, 16, lease.ip);
  put32(b, 20, lease.server);
  b.set(req.chaddr, 28);
  put32(b, 236, MAGIC);
  let i = 240;
  const opt = (code: number, data: number[]) => {
    b[i++] = code;
    b[i++] = data.length;
    for (const x of data) b[i++] = x;
  };
  const ip = (a: number) => [a >>> 24, (a >>> 16) & 0xff, (a >>> 8) & 0xff, a & 0xff];
  opt(53, [type]);
  opt(54, ip(lease.server));
  if (type !== DHCPNAK) {
    opt(51, ip(lease.leaseSeconds));
    opt(58, ip(Math.floor(lease.leaseSeconds / 2)));
    opt(59, ip(Math.floor((lease.leaseSeconds * 7) / 8)));
    opt(1, ip(lease.mask));
    opt(3, ip(lease.router));
    opt(6, ip(lease.dns));
    if (lease.domain) opt(15, Array.from(new TextEncoder().encode(lease.domain.slice(0, 64))));
  }
  b[i++] = 255;
  return b;
}
