// agentk's probes and metrics on their own port (default :8080):
//   /liveness  200 while the process runs
//   /readiness 200 once kas accepted a tunnel stream since the last connection failure, else 503
//   /metrics   prom-client's default register (Prometheus text format)
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { register } from 'prom-client';
import type { Logger } from '../internal/log';
import { splitHostPort } from '../modules/reverse_tunnel/server/agent_server';

export interface ProbeServer {
  address: string;
  stop(): Promise<void>;
}

export async function startProbeServer(address: string, isReady: () => boolean, logger: Logger): Promise<ProbeServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/liveness') return reply(res, 200, 'ok\n');
    if (path === '/readiness') return isReady() ? reply(res, 200, 'ready\n') : reply(res, 503, 'not connected to kas\n');
    if (path === '/metrics') {
      register
        .metrics()
        .then((text) => reply(res, 200, text, register.contentType))
        .catch((err: unknown) => {
          logger.error('metrics collection failed', { err });
          reply(res, 500, 'metrics collection failed\n');
        });
      return;
    }
    reply(res, 404, 'not found: /liveness, /readiness, /metrics\n');
  });
  const { host, port } = splitHostPort(address);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host || undefined, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  const boundAddress = `${host || bound.address}:${bound.port}`;
  logger.info('observability listener started', { address: boundAddress });
  return {
    address: boundAddress,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function reply(res: http.ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}
