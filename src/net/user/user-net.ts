/**
 * User-mode networking (QEMU's `-netdev user`, slirp): the guest sees a private 10.0.2.0/24 LAN
 * with a gateway at 10.0.2.2 (which is also the host's 127.0.0.1) and a DNS server at 10.0.2.3,
 * and its TCP/UDP traffic leaves through ordinary host sockets; no privileges, no tap device.
 *
 * This class is the guest-facing side: Ethernet, ARP, IPv4, ICMP echo, the DHCP server, the DNS
 * forwarder and the TCP/UDP NAT tables. Host sockets sit behind UserNetHost (host.ts).
 *
 * Guest input is never trusted: malformed frames are counted and dropped, tables are bounded
 * (TCP connections, connects in flight, UDP mappings, DNS queries, DHCP leases) and nothing a
 * guest sends makes transmit() throw.
 */
import { BROADCAST_MAC, ipToString, macKey, parseIp } from '../bytes.ts';
import { ARP_REPLY, ARP_REQUEST, buildArp, parseArp } from '../arp.ts';
import { ETH_HEADER, ETHERTYPE_ARP, ETHERTYPE_IPV4, ethType, MAX_FRAME } from '../ethernet.ts';
import { parseIpv4, PROTO_ICMP, PROTO_TCP, PROTO_UDP, type Ipv4Packet } from '../ipv4.ts';
import { buildEchoReply, buildUnreachable, ICMP_ECHO_REQUEST, parseIcmp, UNREACH_PORT } from '../icmp.ts';
import { buildUdp, parseUdp } from '../udp.ts';
import { ACK, buildTcp, FIN, RST, SYN, parseTcp, seqAdd, type TcpOut, type TcpSegment } from '../tcp.ts';
import {
  buildDhcpReply,
  DHCP_CLIENT_PORT,
  DHCP_SERVER_PORT,
  DHCPACK,
  DHCPDISCOVER,
  DHCPNAK,
  DHCPOFFER,
  DHCPREQUEST,
  parseDhcp,
  type DhcpRequest,
} from '../dhcp.ts';
import {
  buildDnsError,
  buildDnsResponse,
  CLASS_IN,
  parseDnsQuery,
  RCODE_FORMERR,
  RCODE_NOTIMP,
  RCODE_NXDOMAIN,
  RCODE_OK,
  RCODE_SERVFAIL,
  TYPE_A,
  TYPE_AAAA,
} from '../dns.ts';
import type { NetBackend } from '../types.ts';
import { fragment, Reassembler } from '../ipv4-frag.ts';
import type { HostTcpHandlers, HostTcpSocket, HostUdpSocket, UserNetHost } from './host.ts';
import { TcpConn, type TcpConnHost } from './tcp-conn.ts';

export const NETWORK = 0x0a000200; // 10.0.2.0/24
export const NETMASK = 0xffffff00;
export const GATEWAY_IP = 0x0a000202;
export const DNS_IP = 0x0a000203;
export const FIRST_GUEST_IP = 0x0a00020f; // 10.0.2.15
const BROADCAST_IP = 0xffffffff;
const SUBNET_BROADCAST = 0x0a0002ff;
/** The gateway's MAC as QEMU's slirp uses it (52:55 + the IP address). */
export const GATEWAY_MAC = new Uint8Array([0x52, 0x55, 0x0a, 0x00, 0x02, 0x02]);
export const LEASE_SECONDS = 86400;
/** DHCP leases and ARP entries: one per guest address on the /24 (one NIC needs one or two). */
const MAX_LEASES = 16;
/** An idle UDP mapping is closed after this long (Linux conntrack's UDP stream timeout). */
const UDP_IDLE_MS = 120_000;
/** Host name lookups in flight; more are answered SERVFAIL (the resolver retries). */
const MAX_DNS_INFLIGHT = 64;
/**
 * Default cap on NAT'd TCP connections. Each holds at most SND_HIGH (512 KiB) towards the guest
 * plus RCV_BUF (256 KiB) towards the host, so the worst case is bounded (~768 MiB); busy guests
 * (parallel downloads, a browser) use tens to a few hundred.
 */
export const DEFAULT_MAX_TCP = 1024;
/**
 * Host bytes all TCP connections together may buffer towards the guest before their host sockets
 * are paused (resumed below TOTAL_SND_LOW): 128 connections at their own SND_HIGH, while a guest
 * that opens DEFAULT_MAX_TCP connections and never acknowledges cannot make the NAT hold 512 MiB.
 */
export const TOTAL_SND_HIGH = 64 * 1024 * 1024;
const TOTAL_SND_LOW = TOTAL_SND_HIGH / 2;
/** Default cap on outbound connects waiting for the host (a SYN flood costs host sockets). */
export const DEFAULT_MAX_PENDING = 128;
/** Default cap on UDP mappings (one host socket each); the least recently used is evicted. */
export const DEFAULT_MAX_UDP = 256;
/**
 * Largest frame taken whole from the NIC (transmit offload): a full 64 KiB IPv4 packet behind an
 * Ethernet header, the most one TSO request can carry. Its TCP payload goes to the host socket
 * only as far as our receive window allows, so the size costs no buffering beyond RCV_BUF.
 */
export const MAX_OFFLOAD_FRAME = ETH_HEADER + 65535;
/** Largest UDP payload in one IPv4 datagram (sent to the guest in fragments above the MTU). */
const MAX_UDP_PAYLOAD = 65535 - 28;

export interface UserNetOptions {
  /** restrict=on: the guest may reach only the host (10.0.2.2), DNS, and forwarded ports. */
  restrict?: boolean;
  maxTcpConnections?: number;
  /** Outbound connects waiting for the host; SYNs beyond it are dropped (the guest retries). */
  maxPendingConnects?: number;
  maxUdpMappings?: number;
  /** DNS search domain handed out by DHCP. */
  domain?: string;
}

/** A host peer talking to a forwarded UDP port: it appears to the guest as 10.0.2.2:port. */
interface UdpForward {
  port: number;
  guestIp: number;
  guestPort: number;
  reply: (data: Uint8Array) => void;
  lastUsed: number;
}

interface UdpMapping {
  sock: HostUdpSocket;
  guestIp: number;
  guestPort: number;
  lastUsed: number;
  cancel: () => void;
}

export class UserNet implements NetBackend, TcpConnHost {
  readonly checksumsValid = true;
  /**
   * Large TCP segments are taken whole with their checksum partial: cutting them into MTU frames
   * with checksums only for us to verify them and join them back into a stream is wasted work.
   */
  readonly transmitOffload = MAX_OFFLOAD_FRAME;
  readonly timers;
  /** Dropped frames by reason (a fixed set of strings, so bounded). */
  readonly drops = new Map<string, number>();
  private deliver: ((frame: Uint8Array, gsoSize?: number) => void) | undefined;
  /** Largest frame the NIC takes (receive offload), 0 = MTU-sized only. */
  private rxOffload = 0;
  private readonly tcp = new Map<string, TcpConn>();
  private readonly udp = new Map<string, UdpMapping>();
  /** Forwarded UDP peers by host address, and the same by our port on 10.0.2.2. */
  private readonly udpFwdByPeer = new Map<string, UdpForward>();
  private readonly udpFwdByPort = new Map<number, UdpForward>();
  private nextUdpPort = 49152;
  private readonly leases = new Map<number, number>();
  /** Guest IP -> MAC, learned from the guest's own frames. */
  private readonly arp = new Map<number, Uint8Array>();
  private lastGuestMac: Uint8Array = BROADCAST_MAC;
  private readonly ackQueue = new Set<TcpConn>();
  /** Host bytes buffered towards the guest by all TCP connections. */
  private sndTotal = 0;
  /** Connections held paused by the total budget, resumed when it falls below TOTAL_SND_LOW. */
  private readonly sndStarved = new Set<TcpConn>();
  private readonly frags: Reassembler;
  private dnsInflight = 0;
  private nextPort = 49152;
  private issCounter = 0;
  private closed = false;
  private readonly maxTcp: number;
  private readonly maxPending: number;
  private readonly maxUdp: number;

  constructor(
    private readonly host: UserNetHost,
    private readonly opts: UserNetOptions = {},
  ) {
    this.timers = host.timers;
    this.maxTcp = opts.maxTcpConnections ?? DEFAULT_MAX_TCP;
    this.maxPending = opts.maxPendingConnects ?? DEFAULT_MAX_PENDING;
    this.maxUdp = opts.maxUdpMappings ?? DEFAULT_MAX_UDP;
    this.frags = new Reassembler(() => this.timers.now());
  }

  /** Connection table and drop counters, one line each, for diagnostics. */
  describe(): string[] {
    const out = [...this.tcp.values()].map((c) => c.describe());
    for (const [k, v] of this.drops) out.push(`drop ${k}: ${v}`);
    return out;
  }

  /** Partial datagrams waiting for more fragments. */
  get fragmentsPending(): number {
    return this.frags.pending;
  }

  connect(deliver: (frame: Uint8Array, gsoSize?: number) => void): void {
    this.deliver = deliver;
  }

  setReceiveOffload(maxFrame: number): void {
    this.rxOffload = maxFrame > 1514 ? maxFrame : 0;
  }

  segmentLimit(mss: number): number {
    // IPv4 total length is 16 bits: 40 bytes of IP and TCP headers leave 65495 for data.
    return this.rxOffload ? Math.max(mss, Math.min(65495, this.rxOffload - 54)) : mss;
  }

  get tcpCount(): number {
    return this.tcp.size;
  }

  get udpCount(): number {
    return this.udp.size;
  }

  private drop(reason: string): void {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1);
  }

  private send(frame: Uint8Array, gsoSize?: number): void {
    if (!this.closed) this.deliver?.(frame, gsoSize);
  }

  private guestMac(ip: number): Uint8Array {
    return this.arp.get(ip) ?? this.lastGuestMac;
  }

  /**
   * A frame from the guest; with gsoSize a whole TCP segment of up to MAX_OFFLOAD_FRAME bytes
   * whose TCP checksum is partial (NetBackend.transmit). Never throws: anything unexpected is
   * counted as a drop.
   */
  transmit(frame: Uint8Array, gsoSize?: number): void {
    if (this.closed) return;
    try {
      this.handle(frame, (gsoSize ?? 0) > 0);
    } catch (e) {
      this.drop(`internal: ${e instanceof Error ? e.name : 'error'}`);
    }
  }

  /** End of a batch of guest frames: send the ACKs that were held back to cover several segments. */
  flush(): void {
    for (const c of this.ackQueue) if (c.ackPending && c.state !== 'closed') c.sendAck();
    this.ackQueue.clear();
  }

  wantAck(conn: TcpConn): void {
    this.ackQueue.add(conn);
  }

  private handle(frame: Uint8Array, offloaded: boolean): void {
    let f = frame;
    if (f.length < 14 || f.length > (offloaded ? MAX_OFFLOAD_FRAME : MAX_FRAME))
      return this.drop('ethernet: bad frame length');
    if (f[6]! & 1) return this.drop('ethernet: multicast source');
    const type = ethType(f);
    if (type === ETHERTYPE_ARP) return this.handleArp(f);
    if (type !== ETHERTYPE_IPV4) return this.drop('ethernet: unsupported ethertype');
    // Only frames to us or to broadcast (a switch may flood others).
    if (!(f[0]! & 1) && macKey(f, 0) !== macKey(GATEWAY_MAC, 0)) return this.drop('ethernet: not for us');
    let ip = parseIpv4(f);
    if (typeof ip === 'string') return this.drop(ip);
    if (offloaded) {
      // The partial checksum is only acceptable on what the contract allows: one whole TCP segment.
      if (ip.proto !== PROTO_TCP || ip.fragment) return this.drop('offload: not a whole TCP segment');
      this.learn(ip.src, f);
      return this.handleTcp(f, ip, false);
    }
    if (ip.fragment) {
      const whole = this.frags.add(f, ip);
      if (!whole) return;
      f = whole;
      ip = parseIpv4(f);
      if (typeof ip === 'string') return this.drop(ip);
    }
    this.learn(ip.src, f);
    switch (ip.proto) {
      case PROTO_UDP:
        return this.handleUdp(f, ip);
      case PROTO_TCP:
        return this.handleTcp(f, ip, true);
      case PROTO_ICMP:
        return this.handleIcmp(f, ip);
      default:
        return this.drop('ipv4: unsupported protocol');
    }
  }

  private learn(ip: number, f: Uint8Array): void {
    if ((ip & NETMASK) !== NETWORK || ip === GATEWAY_IP || ip === DNS_IP) return;
    const mac = f.slice(6, 12);
    this.lastGuestMac = mac;
    if (this.arp.size >= MAX_LEASES && !this.arp.has(ip)) return;
    this.arp.set(ip, mac);
  }

  private handleArp(f: Uint8Array): void {
    const a = parseArp(f);
    if (typeof a === 'string') return this.drop(a);
    if (a.senderIp !== 0) this.learn(a.senderIp, f);
    if (a.op !== ARP_REQUEST) return;
    if (a.targetIp !== GATEWAY_IP && a.targetIp !== DNS_IP) return;
    this.send(buildArp(ARP_REPLY, a.senderMac, GATEWAY_MAC, a.targetIp, a.senderMac, a.senderIp));
  }

  private handleIcmp(f: Uint8Array, ip: Ipv4Packet): void {
    const m = parseIcmp(f, ip);
    if (typeof m === 'string') return this.drop(m);
    if (m.type !== ICMP_ECHO_REQUEST || m.code !== 0) return;
    if (ip.dst === GATEWAY_IP || ip.dst === DNS_IP) this.send(buildEchoReply(f, ip, GATEWAY_MAC, f.subarray(6, 12)));
    else this.drop('icmp: echo beyond the gateway is not forwarded');
  }

  // ---- UDP: DHCP, DNS, NAT ----

  private handleUdp(f: Uint8Array, ip: Ipv4Packet): void {
    const u = parseUdp(f, ip);
    if (typeof u === 'string') return this.drop(u);
    if (u.dstPort === DHCP_SERVER_PORT && u.srcPort === DHCP_CLIENT_PORT) {
      if (ip.dst === BROADCAST_IP || ip.dst === GATEWAY_IP || ip.dst === SUBNET_BROADCAST) return this.dhcp(u.data);
    }
    if (ip.dst === BROADCAST_IP || ip.dst === SUBNET_BROADCAST) return this.drop('udp: broadcast');
    if (ip.dst === GATEWAY_IP) {
      const fw = this.udpFwdByPort.get(u.dstPort);
      if (fw && fw.guestPort === u.srcPort) {
        fw.lastUsed = this.timers.now();
        return fw.reply(u.data.slice());
      }
    }
    if (ip.dst === DNS_IP) {
      if (u.dstPort === 53) return this.dns(u.data, ip.src, u.srcPort);
      return this.send(buildUnreachable(f, ip, UNREACH_PORT, DNS_IP, GATEWAY_MAC, f.subarray(6, 12)));
    }
    const target = this.hostAddress(ip.dst);
    if (target === undefined) return this.drop('udp: destination not reachable');
    const key = `${ip.src}:${u.srcPort}`;
    let m = this.udp.get(key);
    if (!m) {
      if (this.udp.size >= this.maxUdp) this.evictUdp();
      const guestIp = ip.src;
      const guestPort = u.srcPort;
      const sock = this.host.udpOpen((data, fromIp, fromPort) => this.udpFromHost(key, data, fromIp, fromPort));
      m = { sock, guestIp, guestPort, lastUsed: this.timers.now(), cancel: () => {} };
      this.udp.set(key, m);
      this.armUdpIdle(key, m);
    }
    m.lastUsed = this.timers.now();
    m.sock.send(u.data.slice(), target, u.dstPort);
  }

  /** The host address a guest destination maps to, or undefined if the guest may not reach it. */
  private hostAddress(dst: number): string | undefined {
    if (dst === GATEWAY_IP) return '127.0.0.1';
    if (this.opts.restrict) return undefined;
    if ((dst & NETMASK) === NETWORK) return undefined; // other guests' addresses: nothing there
    const top = dst >>> 24;
    if (top === 0 || top === 127 || top >= 224) return undefined;
    return ipToString(dst);
  }

  private udpFromHost(key: string, data: Uint8Array, fromIp: string, fromPort: number): void {
    const m = this.udp.get(key);
    if (!m || this.closed) return;
    const src = fromIp === '127.0.0.1' ? GATEWAY_IP : parseIp(fromIp);
    if (src === undefined) return this.drop('udp: reply from a non-IPv4 address');
    if (data.length > MAX_UDP_PAYLOAD) return this.drop('udp: reply too large for IPv4');
    m.lastUsed = this.timers.now();
    const d = buildUdp(this.guestMac(m.guestIp), GATEWAY_MAC, src, fromPort, m.guestIp, m.guestPort, data);
    for (const piece of fragment(d)) this.send(piece);
  }

  private armUdpIdle(key: string, m: UdpMapping): void {
    m.cancel = this.timers.setTimer(
      () => {
        if (this.udp.get(key) !== m) return;
        if (this.timers.now() - m.lastUsed >= UDP_IDLE_MS) this.closeUdp(key);
        else this.armUdpIdle(key, m);
      },
      Math.max(1000, m.lastUsed + UDP_IDLE_MS - this.timers.now()),
    );
  }

  private closeUdp(key: string): void {
    const m = this.udp.get(key);
    if (!m) return;
    this.udp.delete(key);
    m.cancel();
    m.sock.close();
  }

  private evictUdp(): void {
    let oldest: string | undefined;
    let t = Infinity;
    for (const [k, m] of this.udp) {
      if (m.lastUsed < t) {
        t = m.lastUsed;
        oldest = k;
      }
    }
    if (oldest) this.closeUdp(oldest);
  }

  private dhcp(data: Uint8Array): void {
    const req = parseDhcp(data);
    if (typeof req === 'string') return this.drop(req);
    if (req.serverId !== undefined && req.serverId !== GATEWAY_IP) return; // talking to another server
    const k = macKey(req.chaddr, 0);
    let ip = this.leases.get(k);
    if (ip === undefined) {
      if (this.leases.size >= MAX_LEASES) return this.drop('dhcp: no free addresses');
      ip = FIRST_GUEST_IP + this.leases.size;
      this.leases.set(k, ip);
    }
    let type: number;
    if (req.type === DHCPDISCOVER) type = DHCPOFFER;
    else if (req.type === DHCPREQUEST) {
      const wanted = req.requestedIp ?? req.ciaddr;
      type = wanted === ip ? DHCPACK : DHCPNAK;
    } else return; // RELEASE, DECLINE, INFORM: nothing to do
    this.replyDhcp(type, req, ip);
  }

  private replyDhcp(type: number, req: DhcpRequest, ip: number): void {
    const body = buildDhcpReply(type, req, {
      ip,
      mask: NETMASK,
      router: GATEWAY_IP,
      dns: DNS_IP,
      server: GATEWAY_IP,
      leaseSeconds: LEASE_SECONDS,
      domain: this.opts.domain,
    });
    this.send(buildUdp(BROADCAST_MAC, GATEWAY_MAC, GATEWAY_IP, DHCP_SERVER_PORT, BROADCAST_IP, DHCP_CLIENT_PORT, body));
  }

  private dns(data: Uint8Array, guestIp: number, guestPort: number): void {
    const reply = (b: Uint8Array) =>
      this.send(buildUdp(this.guestMac(guestIp), GATEWAY_MAC, DNS_IP, 53, guestIp, guestPort, b));
    const q = parseDnsQuery(data);
    if (typeof q === 'string') {
      this.drop(q);
      const e = buildDnsError(data, RCODE_FORMERR);
      if (e) reply(e);
      return;
    }
    if (q.qclass !== CLASS_IN) return reply(buildDnsResponse(q, RCODE_NOTIMP));
    // No IPv6 on this network: an empty AAAA answer makes resolvers fall back to A.
    if (q.qtype === TYPE_AAAA) return reply(buildDnsResponse(q, RCODE_OK));
    if (q.qtype !== TYPE_A) return reply(buildDnsResponse(q, RCODE_NOTIMP));
    if (this.dnsInflight >= MAX_DNS_INFLIGHT) return reply(buildDnsResponse(q, RCODE_SERVFAIL));
    this.dnsInflight++;
    this.host.resolve(q.name).then(
      (addrs) => {
        this.dnsInflight--;
        const nums = addrs.map((a) => (a.startsWith('127.') ? GATEWAY_IP : parseIp(a))).filter((a) => a !== undefined);
        reply(buildDnsResponse(q, nums.length ? RCODE_OK : RCODE_NXDOMAIN, nums));
      },
      () => {
        this.dnsInflight--;
        reply(buildDnsResponse(q, RCODE_SERVFAIL));
      },
    );
  }

  // ---- TCP NAT ----

  /** `verify`: check the TCP checksum (false only for offloaded segments, whose checksum is partial). */
  private handleTcp(f: Uint8Array, ip: Ipv4Packet, verify: boolean): void {
    const seg = parseTcp(f, ip, verify);
    if (typeof seg === 'string') return this.drop(seg);
    const key = `${ip.src}:${seg.srcPort}>${ip.dst}:${seg.dstPort}`;
    const conn = this.tcp.get(key);
    if (conn) return conn.segment(seg);
    if ((seg.flags & (SYN | ACK | RST | FIN)) !== SYN) {
      if (!(seg.flags & RST)) this.resetFor(ip, seg, f);
      return;
    }
    const target = this.hostAddress(ip.dst);
    if (target === undefined || this.tcp.size >= this.maxTcp) {
      this.drop(target === undefined ? 'tcp: destination not reachable' : 'tcp: connection table full');
      return this.resetFor(ip, seg, f);
    }
    let pending = 0;
    for (const c of this.tcp.values()) if (c.state === 'connecting') pending++;
    if (pending >= this.maxPending) return this.drop('tcp: too many connects in flight');
    this.learn(ip.src, f);
    const c = new TcpConn(this, key, ip.src, seg.srcPort, ip.dst, seg.dstPort, 'connecting', this.iss());
    c.acceptSyn(seg);
    this.tcp.set(key, c);
    c.host = this.host.tcpConnect(target, seg.dstPort, c);
  }

  /** RST for a segment that belongs to no connection (RFC 9293 3.10.7.1). */
  private resetFor(ip: Ipv4Packet, seg: TcpSegment, f: Uint8Array): void {
    const t: TcpOut =
      seg.flags & ACK
        ? { srcPort: seg.dstPort, dstPort: seg.srcPort, seq: seg.ack, ack: 0, flags: RST, window: 0 }
        : {
            srcPort: seg.dstPort,
            dstPort: seg.srcPort,
            seq: 0,
            ack: seqAdd(seg.seq, seg.data.length + (seg.flags & SYN ? 1 : 0) + (seg.flags & FIN ? 1 : 0)),
            flags: RST | ACK,
            window: 0,
          };
    this.send(buildTcp(f.subarray(6, 12), GATEWAY_MAC, ip.dst, ip.src, t));
  }

  private iss(): number {
    this.issCounter = (this.issCounter + 0x9e3779b9) >>> 0;
    return (Math.floor(this.timers.now() * 250) + this.issCounter) >>> 0;
  }

  emit(conn: TcpConn, t: TcpOut, data?: Uint8Array, gsoSize?: number): void {
    this.send(buildTcp(this.guestMac(conn.guestIp), GATEWAY_MAC, conn.remoteIp, conn.guestIp, t, data), gsoSize);
  }

  remove(conn: TcpConn): void {
    if (this.tcp.get(conn.key) === conn) this.tcp.delete(conn.key);
    this.ackQueue.delete(conn);
    this.sndStarved.delete(conn);
  }

  sndBuffered(conn: TcpConn, delta: number): boolean {
    this.sndTotal += delta;
    if (this.sndTotal > (delta >= 0 ? TOTAL_SND_HIGH : TOTAL_SND_LOW)) {
      this.sndStarved.add(conn);
      return true;
    }
    if (delta < 0 && this.sndStarved.size) {
      const waiting = [...this.sndStarved];
      this.sndStarved.clear();
      for (const c of waiting) if (c !== conn) c.hostMayResume();
    }
    return false;
  }

  /** Host bytes all TCP connections hold towards the guest. */
  get tcpBufferedBytes(): number {
    return this.sndTotal;
  }

  /**
   * A host connection accepted on a forwarded port: open a connection to guestPort from
   * 10.0.2.2. `attach` wires the host socket's events to the connection. Returns false (the
   * caller closes the socket) when the table is full.
   */
  forwardTcp(guestPort: number, attach: (h: HostTcpHandlers) => HostTcpSocket, guestIp?: number): boolean {
    if (this.closed || this.tcp.size >= this.maxTcp) return false;
    const gip = guestIp ?? this.defaultGuestIp();
    let key = '';
    let port = 0;
    for (let i = 0; i < 16384; i++) {
      port = this.nextPort;
      this.nextPort = this.nextPort >= 65535 ? 49152 : this.nextPort + 1;
      key = `${gip}:${guestPort}>${GATEWAY_IP}:${port}`;
      if (!this.tcp.has(key)) break;
    }
    if (this.tcp.has(key)) return false;
    const c = new TcpConn(this, key, gip, guestPort, GATEWAY_IP, port, 'syn-sent', this.iss());
    this.tcp.set(key, c);
    c.host = attach(c);
    c.host.pause();
    c.openToGuest();
    return true;
  }

  /**
   * A datagram from host peer `peer` (address:port text) to a forwarded UDP port: delivered to
   * guestPort from 10.0.2.2:P, P fixed per peer, so the guest's replies find their way back
   * through `reply`. At most maxUdpMappings peers; the least recently active one is dropped.
   */
  forwardUdp(peer: string, guestPort: number, data: Uint8Array, reply: (data: Uint8Array) => void): void {
    if (this.closed) return;
    let fw = this.udpFwdByPeer.get(peer);
    if (!fw || fw.guestPort !== guestPort) {
      if (fw) this.dropUdpForward(peer, fw);
      if (this.udpFwdByPeer.size >= this.maxUdp) {
        let oldest: [string, UdpForward] | undefined;
        for (const e of this.udpFwdByPeer) if (!oldest || e[1].lastUsed < oldest[1].lastUsed) oldest = e;
        if (oldest) this.dropUdpForward(oldest[0], oldest[1]);
      }
      let port = this.nextUdpPort;
      while (this.udpFwdByPort.has(port)) port = port >= 65535 ? 49152 : port + 1;
      this.nextUdpPort = port >= 65535 ? 49152 : port + 1;
      fw = { port, guestIp: this.defaultGuestIp(), guestPort, reply, lastUsed: 0 };
      this.udpFwdByPeer.set(peer, fw);
      this.udpFwdByPort.set(port, fw);
    }
    fw.lastUsed = this.timers.now();
    if (data.length > MAX_UDP_PAYLOAD) return this.drop('udp: forwarded datagram too large for IPv4');
    const d = buildUdp(this.guestMac(fw.guestIp), GATEWAY_MAC, GATEWAY_IP, fw.port, fw.guestIp, guestPort, data);
    for (const piece of fragment(d)) this.send(piece);
  }

  private dropUdpForward(peer: string, fw: UdpForward): void {
    this.udpFwdByPeer.delete(peer);
    this.udpFwdByPort.delete(fw.port);
  }

  /** The address DHCP gave the guest (10.0.2.15 before any lease). */
  defaultGuestIp(): number {
    for (const ip of this.leases.values()) return ip;
    return FIRST_GUEST_IP;
  }

  close(): void {
    if (this.closed) return;
    for (const c of this.tcp.values()) c.dispose();
    this.tcp.clear();
    for (const k of [...this.udp.keys()]) this.closeUdp(k);
    this.udpFwdByPeer.clear();
    this.udpFwdByPort.clear();
    this.closed = true;
  }
}
