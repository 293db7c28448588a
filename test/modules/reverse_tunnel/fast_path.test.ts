// The tunnel's fast paths keep behaviour: a small response of known length leaves kas in one
// write however its frames arrive; streamed responses still get their headers at once; a request
// kas marks bodyless goes upstream at once, and chunked bodies still arrive whole.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Agentk } from '../../../agent/agentk';
import { makeTempDir, startAgentk, startKas, userAuth, waitForIdleTunnels, writeKubeconfig, type Kas } from './harness';

const PART = 'x'.repeat(1000);
const PARTS = 3;
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** /slow-fixed: known length, sent in pieces 30 ms apart; /slow-stream: no length, first bytes after 300 ms; else echoes the body. */
function startSlowUpstream(): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.url === '/slow-fixed') return void sendInPieces(res);
    if (req.url === '/slow-stream') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.flushHeaders();
      const timer = setTimeout(() => res.end('late body'), 300);
      res.on('close', () => clearTimeout(timer));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => res.end(Buffer.concat(chunks)));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function sendInPieces(res: http.ServerResponse): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': PART.length * PARTS });
  res.flushHeaders();
  for (let i = 0; i < PARTS; i++) {
    await wait(30);
    if (res.destroyed) return;
    res.write(PART);
  }
  res.end();
}

/** Counts the write calls (write or writev) kas makes on each accepted client socket. */
function countSocketWrites(server: http.Server): () => number {
  let writes = 0;
  server.on('connection', (socket: Socket) => {
    const spied = socket as unknown as { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
    const write = spied._write.bind(socket);
    const writev = spied._writev.bind(socket);
    spied._write = (...args) => {
      writes++;
      write(...args);
    };
    spied._writev = (...args) => {
      writes++;
      writev(...args);
    };
  });
  return () => writes;
}

function get(url: string): Promise<{ status: number; body: string; headersAt: number; firstBodyAt: number }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: userAuth(), agent: false }, (res) => {
        const headersAt = Date.now();
        let firstBodyAt = 0;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          firstBodyAt ||= Date.now();
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headersAt, firstBodyAt }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/** POST with transfer-encoding: chunked (no content-length), the body written in two parts. */
function postChunked(url: string, parts: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { ...userAuth(), 'content-type': 'text/plain' }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
      res.on('error', reject);
    });
    req.on('error', reject);
    void (async () => {
      for (const part of parts) {
        req.write(part);
        await wait(100);
      }
      req.end();
    })();
  });
}

describe('tunnel: fast paths keep behaviour', function () {
  let upstream: http.Server;
  let dir: string;
  let kas: Kas;
  let agentk: Agentk;
  let kasWrites: () => number;

  before(async () => {
    upstream = await startSlowUpstream();
    dir = await makeTempDir();
    const kubeconfig = await writeKubeconfig(dir, `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`);
    kas = await startKas();
    kasWrites = countSocketWrites(kas.proxyServer);
    agentk = await startAgentk({ kasAddress: kas.grpcAddress, kubeconfig });
    await waitForIdleTunnels(kas.registry);
  });
  after(async () => {
    await agentk.stop();
    await kas.stop();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('writes a small response of known length to the client in one write, though its pieces arrive over 90 ms', async () => {
    const before = kasWrites();
    const res = await get(`${kas.proxyUrl}/slow-fixed`);
    assert.equal(res.status, 200);
    assert.equal(res.body, PART.repeat(PARTS));
    assert.equal(kasWrites() - before, 1, 'headers and all body pieces should leave kas in a single write');
  });

  it('still sends the headers of a response without a length before its body (a quiet watch is not held)', async () => {
    const res = await get(`${kas.proxyUrl}/slow-stream`);
    assert.equal(res.body, 'late body');
    assert.ok(
      res.firstBodyAt - res.headersAt >= 150,
      `headers should arrive well before the body sent 300 ms later (gap ${res.firstBodyAt - res.headersAt} ms)`,
    );
  });

  it('delivers a chunked request body (no content-length) whole: only requests without a body skip close_send', async () => {
    const echoed = await postChunked(`${kas.proxyUrl}/echo`, ['first part, ', 'second part']);
    assert.equal(echoed, 'first part, second part');
  });

  it('answers a GET without a body (the upstream request ends at once)', async () => {
    const res = await get(`${kas.proxyUrl}/echo`);
    assert.equal(res.status, 200);
    assert.equal(res.body, '');
  });
});
