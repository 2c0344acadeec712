/**
 * `--net` for `virtkit run`: parses the option text (QEMU's -netdev spellings) and builds the
 * backends. Each --net adds one virtio-net NIC.
 *
 *   user[,hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]...[,restrict=on|off]
 *   switch=NAME                 a switch inside this process (several NICs on one LAN)
 *   socket,listen=PATH          host a LAN on a unix socket; socket,connect=PATH joins it;
 *   socket,path=PATH            joins PATH if someone hosts it there, else hosts it
 * Every form takes mac=52:54:00:xx:xx:xx.
 */
import type { NetBackend } from '../../../net/types.ts';
import { parseIp, parseMac } from '../../../net/bytes.ts';
import { EthernetSwitch } from '../../../net/switch.ts';
import { UserNet } from '../../../net/user/user-net.ts';
import { listenForwards, nodeTimers, NodeUserNetHost, type HostForward } from './sockets.ts';
import { StreamClient, StreamHub } from './stream-socket.ts';
import { describeError } from '../errno-words.ts';

export class NetConfigError extends Error {
  /**
   * `runtime`: the text was right but the host refused (a busy port, a socket nobody listens on):
   * a runtime failure, not bad input (the CLI's exit status 1, not 2).
   */
  constructor(
    message: string,
    readonly runtime = false,
  ) {
    super(message);
    this.name = 'NetConfigError';
  }
}

export type NetSpec =
  | { kind: 'user'; forwards: HostForward[]; restrict: boolean; mac?: Uint8Array }
  | { kind: 'switch'; name: string; mac?: Uint8Array }
  | { kind: 'socket'; mode: 'listen' | 'connect' | 'path'; path: string; mac?: Uint8Array };

const USAGE =
  'expected user[,hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT][,restrict=on], switch=NAME or socket,listen|connect|path=PATH';
const HOSTFWD_FORM = '[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT, e.g. tcp::8080-:80';

function port(text: string, what: string, spec: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 65535)
    throw new NetConfigError(`--net ${spec}: bad ${what} '${text}' (expected a port number 1..65535)`);
  return n;
}

/**
 * hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT, QEMU's form, read field by field
 * as QEMU does (protocol up to the first ':', host address up to the next, port up to '-'). Also
 * taken: `tcp:8080-:80` (no host address field: unambiguous, as no address is named tcp or udp).
 * An empty host address binds 127.0.0.1, not QEMU's 0.0.0.0: a forward is not opened to the LAN
 * unless asked for (hostfwd=tcp:0.0.0.0:8080-:80).
 */
function parseHostfwd(v: string, spec: string): HostForward {
  const bad = (why: string) => new NetConfigError(`--net ${spec}: hostfwd '${v}': ${why} (expected ${HOSTFWD_FORM})`);
  const dash = v.indexOf('-');
  if (dash < 0) throw bad("no '-' between the host and the guest side");
  const host = v.slice(0, dash).split(':');
  const guest = v.slice(dash + 1).split(':');
  let proto: 'tcp' | 'udp' = 'tcp';
  if (host.length === 3 || (host.length === 2 && (host[0] === 'tcp' || host[0] === 'udp'))) {
    const p = host.shift()!;
    if (p === 'udp') proto = 'udp';
    else if (p !== 'tcp' && p !== '') throw bad(`protocol '${p}' is not tcp or udp`);
  }
  if (host.length > 2) throw bad("too many ':' on the host side");
  if (guest.length > 2) throw bad("too many ':' on the guest side");
  const hostPort = host.pop()!;
  const addr = host.pop() || '127.0.0.1';
  const guestPort = guest.pop()!;
  const guestAddr = guest.pop() ?? '';
  if (parseIp(addr) === undefined) throw bad(`bad host address '${addr}' (an IPv4 address such as 127.0.0.1)`);
  if (guestAddr && guestAddr !== '10.0.2.15')
    throw new NetConfigError(`--net ${spec}: forwarding goes to the guest at 10.0.2.15, not '${guestAddr}'`);
  return {
    proto,
    hostAddr: addr,
    hostPort: port(hostPort, 'host port', spec),
    guestPort: port(guestPort, 'guest port', spec),
  };
}

export function parseNetSpec(spec: string): NetSpec {
  const parts = spec.split(',');
  const head = parts.shift()!;
  let mac: Uint8Array | undefined;
  const opts: Array<[string, string]> = [];
  for (const p of parts) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new NetConfigError(`--net ${spec}: option '${p}' is not KEY=VALUE`);
    const k = p.slice(0, eq);
    const v = p.slice(eq + 1);
    if (k === 'mac') {
      mac = parseMac(v);
      if (!mac) throw new NetConfigError(`--net ${spec}: bad MAC address '${v}'`);
      if (mac[0]! & 1) throw new NetConfigError(`--net ${spec}: ${v} is a multicast MAC address`);
    } else opts.push([k, v]);
  }
  if (head === 'user') {
    const forwards: HostForward[] = [];
    let restrict = false;
    for (const [k, v] of opts) {
      if (k === 'hostfwd') forwards.push(parseHostfwd(v, spec));
      else if (k === 'restrict' && (v === 'on' || v === 'yes' || v === 'off' || v === 'no'))
        restrict = v === 'on' || v === 'yes';
      else throw new NetConfigError(`--net ${spec}: unknown option '${k}=${v}' (hostfwd=, restrict=on|off, mac=)`);
    }
    const seen = new Set<string>();
    for (const f of forwards) {
      const key = `${f.proto}:${f.hostAddr}:${f.hostPort}`;
      if (seen.has(key)) throw new NetConfigError(`--net ${spec}: host port ${key} is forwarded twice`);
      seen.add(key);
    }
    return { kind: 'user', forwards, restrict, mac };
  }
  if (head.startsWith('switch=')) {
    const name = head.slice(7);
    if (!/^[\w.-]{1,64}$/.test(name)) throw new NetConfigError(`--net ${spec}: bad switch name '${name}'`);
    if (opts.length) throw new NetConfigError(`--net ${spec}: unknown option '${opts[0]![0]}'`);
    return { kind: 'switch', name, mac };
  }
  if (head === 'socket') {
    if (opts.length !== 1) throw new NetConfigError(`--net ${spec}: give exactly one of listen=, connect=, path=`);
    const [k, v] = opts[0]!;
    if (k !== 'listen' && k !== 'connect' && k !== 'path')
      throw new NetConfigError(`--net ${spec}: unknown option '${k}' (listen=PATH, connect=PATH, path=PATH)`);
    if (!v) throw new NetConfigError(`--net ${spec}: ${k}= needs a socket path`);
    return { kind: 'socket', mode: k, path: v, mac };
  }
  throw new NetConfigError(`--net '${spec}': ${USAGE}`);
}

export interface BuiltNic {
  backend: NetBackend;
  mac?: Uint8Array;
}

/** The backends of a VM's NICs and everything they opened on the host. */
export class NetSetup {
  readonly nics: BuiltNic[] = [];
  private readonly closers: Array<() => void> = [];
  private readonly switches = new Map<string, EthernetSwitch>();
  /** Set by the VM runner: the NICs' state, printed with VIRTKIT_NET_DEBUG. */
  describeNics?: () => string[];

  /** Builds every spec; on failure closes what was opened and throws NetConfigError. */
  static async build(specs: NetSpec[]): Promise<NetSetup> {
    const s = new NetSetup();
    try {
      for (const spec of specs) await s.add(spec);
    } catch (e) {
      s.close();
      if (e instanceof NetConfigError) throw e;
      // What the host refused (a busy hostfwd port): a runtime failure, not a bad --net text.
      throw new NetConfigError((e as Error).message, true);
    }
    return s;
  }

  private async add(spec: NetSpec): Promise<void> {
    if (spec.kind === 'user') {
      const net = new UserNet(new NodeUserNetHost(), { restrict: spec.restrict });
      this.closers.push(() => net.close());
      if (process.env.VIRTKIT_NET_DEBUG) {
        // Diagnostics: the NAT's connection table on stderr every 2 s.
        const t = setInterval(() => {
          const lines = [...(this.describeNics?.() ?? []), ...net.describe()];
          process.stderr.write(`[net] ${lines.join('\n[net] ')}\n`);
        }, 2000);
        t.unref();
        this.closers.push(() => clearInterval(t));
      }
      const servers = await listenForwards(net, spec.forwards);
      this.closers.push(() => servers.forEach((x) => x.close()));
      this.nics.push({ backend: net, mac: spec.mac });
    } else if (spec.kind === 'switch') {
      let sw = this.switches.get(spec.name);
      if (!sw) this.switches.set(spec.name, (sw = new EthernetSwitch(nodeTimers)));
      const p = sw.port();
      this.nics.push({ backend: p, mac: spec.mac });
    } else {
      let backend: NetBackend;
      const where = spec.path;
      if (spec.mode === 'connect') {
        backend = await StreamClient.connect(where).catch((e: NodeJS.ErrnoException) => {
          throw new NetConfigError(`--net socket,connect=${where}: ${describeError(e)}`, true);
        });
      } else if (spec.mode === 'listen') {
        const hub = await StreamHub.listen(where).catch((e: NodeJS.ErrnoException) => {
          throw new NetConfigError(`--net socket,listen=${where}: ${describeError(e)}`, true);
        });
        this.closers.push(() => hub.close());
        backend = hub.port();
      } else {
        // Join if someone hosts the LAN; else host it; if another process won that race, join it.
        const join = () => StreamClient.connect(where);
        try {
          backend = await join();
        } catch {
          try {
            const hub = await StreamHub.listen(where);
            this.closers.push(() => hub.close());
            backend = hub.port();
          } catch (e) {
            backend = await join().catch(() => {
              throw new NetConfigError(`--net socket,path=${where}: ${describeError(e)}`, true);
            });
          }
        }
      }
      this.closers.push(() => backend.close());
      this.nics.push({ backend, mac: spec.mac });
    }
  }

  close(): void {
    for (const c of this.closers.splice(0).reverse()) {
      try {
        c();
      } catch {
        // already closed
      }
    }
  }
}

/** Wraps a backend so every frame it delivers also wakes the VM loop (which may be sleeping in WFI). */
export function wakingBackend(b: NetBackend, wake: () => void): NetBackend {
  return {
    transmit: (f, gso) => b.transmit(f, gso),
    transmitOffload: b.transmitOffload,
    flush: () => b.flush?.(),
    connect: (deliver) =>
      b.connect((f, gso) => {
        deliver(f, gso);
        wake();
      }),
    setReceiveOffload: (n) => b.setReceiveOffload?.(n),
    checksumsValid: b.checksumsValid,
    close: () => b.close(),
  };
}
