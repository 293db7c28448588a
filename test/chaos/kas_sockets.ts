// kas's own view of the connections a scenario holds open: its descriptors (from /proc/<pid>/fd),
// which of them are sockets, and, for each socket that is a TCP connection, its local port and
// its peer's address (from the process's /proc/<pid>/net/tcp{,6}, matched by inode). A socket the
// kernel keeps in a listener's accept backlog has no descriptor in kas yet, so it is not counted:
// what kas holds is what it accepted and has not closed. The scenario's sockets come from a
// loopback address of their own (HELD_SOCKETS_ADDRESS), so they are told from the load's and
// agentk's connections without the client side knowing anything (a busy client learns its
// sockets' ports late).
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface TcpConnection {
  localPort: number;
  remoteAddress: string;
  remotePort: number;
}

/** Where the fault suite's held sockets connect from: any 127/8 address is loopback on Linux. */
export const HELD_SOCKETS_ADDRESS = '127.0.0.13';

export interface FdCensus {
  fds: number;
  sockets: number;
  /** kas's TCP sockets that are connections (listening sockets left out). */
  connections: TcpConnection[];
}

const TCP_LISTEN = '0A';

/** One look at the process's descriptors; undefined when it is gone. */
export function fdCensus(pid: number): FdCensus | undefined {
  let names: string[];
  try {
    names = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return undefined;
  }
  const inodes = new Set<string>();
  for (const name of names) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${name}`);
    } catch {
      continue; // closed between the listing and the read
    }
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode !== undefined) inodes.add(inode);
  }
  const connections: TcpConnection[] = [];
  const listed = new Set<string>();
  for (const table of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'latin1');
    } catch {
      continue; // no IPv6 in this namespace
    }
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
      const fields = line.trim().split(/\s+/);
      const inode = fields[9];
      // The kernel writes the table a page at a time: a line can repeat when sockets come and go meanwhile.
      if (fields.length < 10 || fields[3] === TCP_LISTEN || !inodes.has(inode!) || listed.has(inode!)) continue;
      listed.add(inode!);
      const [remoteAddress, remotePort] = addressOf(fields[2]!);
      connections.push({ localPort: addressOf(fields[1]!)[1], remoteAddress, remotePort });
    }
  }
  return { fds: names.length, sockets: inodes.size, connections };
}

/**
 * "0100007F:1F90" → ['127.0.0.1', 8080]: the address in the kernel's byte order (an IPv4-mapped
 * IPv6 one as its IPv4 address, another IPv6 one left in hex), the port in hex.
 */
function addressOf(text: string): [string, number] {
  const [hex, port] = text.split(':') as [string, string];
  const v4 = hex.length === 8 ? hex : hex.startsWith('0000000000000000FFFF0000') ? hex.slice(24) : undefined;
  const address = v4 === undefined ? hex : [6, 4, 2, 0].map((at) => parseInt(v4.slice(at, at + 2), 16)).join('.');
  return [address, parseInt(port, 16)];
}

/**
 * Samples kas's census while a scenario holds sockets from `peerAddress`, for each listener port:
 * how many kas held at once at most, and the longest any one of them stayed in kas (from the
 * first sample that saw it to the last).
 */
export class HeldByKas {
  readonly peakFds: { fds: number; sockets: number } = { fds: 0, sockets: 0 };
  private readonly peak = new Map<number, number>();
  private readonly firstSeen = new Map<string, number>();
  private readonly longest = new Map<number, number>();
  private last = new Map<number, number>();

  constructor(
    private readonly pid: number,
    private readonly listenerPorts: number[],
    private readonly peerAddress = HELD_SOCKETS_ADDRESS,
  ) {}

  /** Takes one sample; returns how many kas holds now, per listener port (undefined when kas is gone). */
  sample(now = Date.now()): Map<number, number> | undefined {
    const census = fdCensus(this.pid);
    if (!census) return undefined;
    this.peakFds.fds = Math.max(this.peakFds.fds, census.fds);
    this.peakFds.sockets = Math.max(this.peakFds.sockets, census.sockets);
    const held = new Map<number, number>(this.listenerPorts.map((port) => [port, 0]));
    const seen = new Set<string>();
    for (const c of census.connections) {
      const n = held.get(c.localPort);
      if (n === undefined || c.remoteAddress !== this.peerAddress) continue;
      const key = `${c.localPort}|${c.remotePort}`;
      seen.add(key);
      held.set(c.localPort, n + 1);
      const since = this.firstSeen.get(key) ?? now;
      this.firstSeen.set(key, since);
      this.longest.set(c.localPort, Math.max(this.longest.get(c.localPort) ?? 0, now - since));
    }
    for (const key of [...this.firstSeen.keys()]) if (!seen.has(key)) this.firstSeen.delete(key);
    for (const [port, n] of held) this.peak.set(port, Math.max(this.peak.get(port) ?? 0, n));
    this.last = held;
    return held;
  }

  peakHeld(port: number): number {
    return this.peak.get(port) ?? 0;
  }

  longestHeldMs(port: number): number {
    return this.longest.get(port) ?? 0;
  }

  heldNow(port: number): number {
    return this.last.get(port) ?? 0;
  }
}
