import type * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Binds `host:port` (":port" = all interfaces) and resolves with the bound address. */
export function listen(server: http.Server, address: string): Promise<string> {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(address.trim());
  if (!match) return Promise.reject(new Error(`invalid listen address "${address}"`));
  const host = match[1] ?? match[2] ?? '';
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(match[3]), host || undefined, () => {
      server.off('error', reject);
      const bound = server.address() as AddressInfo;
      const shownHost = host || bound.address;
      resolve(shownHost.includes(':') ? `[${shownHost}]:${bound.port}` : `${shownHost}:${bound.port}`);
    });
  });
}

/** How a client on this host reaches a listener: one bound to every interface is reached on loopback. */
export function reachableAddress(address: string): string {
  const port = address.slice(address.lastIndexOf(':') + 1);
  return address.startsWith('0.0.0.0:') || address.startsWith('[::]:') || address.startsWith(':') ? `127.0.0.1:${port}` : address;
}
