// Requests through kas ↔ agentk over each transport, against a local upstream standing in for
// the Kubernetes API: what arrives upstream, what comes back, and kas's own errors.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import WebSocket from 'ws';
import type { Agentk } from '../../../agent/agentk';
import { createCertificateAuthority } from '../../../agent/internal/tls';
import { KAS_VERSION } from '../../../agent/internal/version';
import { KAS_UNAUTHORIZED_HEADER } from '../../../agent/shared/kas_api';
import {
  AGENT_ID,
  allowAsAgent,
  request,
  startAgentk,
  startKas,
  userAuth,
  useUpstreamKubeconfig,
  waitForIdleTunnels,
  type Kas,
  USER_TOKEN,
} from '../reverse_tunnel/harness';

interface Echo {
  method: string;
  url: string;
  headers: Record<string, string | string[]>;
  body: string;
}

describe('tunnel: requests through kas and agentk', function () {
  const env = useUpstreamKubeconfig();

  const transports: Array<{ name: string; tls: boolean; ws: boolean }> = [
    { name: 'grpc://', tls: false, ws: false },
    { name: 'ws://', tls: false, ws: true },
    { name: 'grpcs://', tls: true, ws: false },
    { name: 'wss://', tls: true, ws: true },
  ];

  for (const transport of transports) {
    describe(`over ${transport.name}`, () => {
      let kas: Kas;
      let agentk: Agentk;
      let caPem: string | undefined;

      before(async () => {
        const ca = transport.tls ? createCertificateAuthority() : undefined;
        caPem = ca?.certPem;
        let caFile: string | undefined;
        if (caPem) {
          caFile = path.join(env.dir, `ca-${transport.name.replace(/\W/g, '')}.pem`);
          await fs.writeFile(caFile, caPem);
        }
        kas = await startKas({ tlsCa: ca });
        agentk = await startAgentk({ kasAddress: transport.ws ? kas.wsAddress : kas.grpcAddress, kubeconfig: env.kubeconfig, caFile });
        await waitForIdleTunnels(kas.registry);
      });
      after(async () => {
        await agentk.stop();
        await kas.stop();
      });

      it('forwards method, path, query and body; strips credentials and cookies; adds Via; uses the kubeconfig credentials upstream', async () => {
        const res = await request(`${kas.proxyUrl}/api/v1/namespaces/default/configmaps?limit=5`, {
          method: 'POST',
          headers: { ...userAuth(), cookie: 'session=secret', 'x-kas-internal': 'x', 'content-type': 'application/json' },
          body: '{"kind":"ConfigMap"}',
          ca: caPem,
        });
        assert.equal(res.status, 200);
        const echo = JSON.parse(res.body) as Echo;
        assert.equal(echo.method, 'POST');
        assert.equal(echo.url, '/api/v1/namespaces/default/configmaps?limit=5');
        assert.equal(echo.body, '{"kind":"ConfigMap"}');
        assert.equal(echo.headers['authorization'], 'Bearer upstream-sa-token', 'agentk applies its own kubeconfig credentials');
        assert.equal(echo.headers['cookie'], undefined);
        assert.equal(echo.headers['x-kas-internal'], undefined);
        assert.equal(echo.headers['via'], `gRPC/1.0 kas-test/${KAS_VERSION}`);
        assert.equal(res.headers['set-cookie']?.[0], 'upstream=1', 'response headers come back');
      });

      it('streams a response: chunks arrive before the upstream finishes', async () => {
        const arrivals = await streamArrivals(`${kas.proxyUrl}/stream`, caPem);
        assert.equal(arrivals.length >= 5, true, `expected the lines to arrive in several chunks, got ${arrivals.length}`);
        const spread = arrivals[arrivals.length - 1]! - arrivals[0]!;
        assert.ok(spread >= 500, `chunks should arrive over the upstream's ~1 s, not all at the end (spread ${spread} ms)`);
      });

      it('passes an HTTP upgrade (WebSocket) through as a two-way byte stream', async () => {
        const wsUrl = `${kas.proxyUrl.replace(/^http/, 'ws')}/api/v1/namespaces/default/pods/p/exec?command=sh`;
        const ws = new WebSocket(wsUrl, { headers: userAuth(), ca: caPem });
        const messages: string[] = [];
        const gotThree = new Promise<void>((resolve, reject) => {
          ws.on('message', (data) => {
            messages.push(data.toString());
            if (messages.length === 1) ws.send('ping-1');
            if (messages.length === 2) ws.send('ping-2');
            if (messages.length === 3) resolve();
          });
          ws.on('error', reject);
        });
        try {
          await gotThree;
        } finally {
          ws.close();
        }
        assert.deepEqual(messages, ['hello agent', 'echo: ping-1', 'echo: ping-2']);
      });
    });
  }
});

function streamArrivals(url: string, ca: string | undefined): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const mod = target.protocol === 'https:' ? https : http;
    const req = mod.request(
      target,
      { headers: { authorization: `Bearer pat:${AGENT_ID}:user-token-for-tests` }, ca, agent: false },
      (res: import('node:http').IncomingMessage) => {
        const arrivals: number[] = [];
        res.on('data', () => arrivals.push(Date.now()));
        res.on('end', () => resolve(arrivals));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('tunnel: kas errors', function () {
  it('answers 401 with the marker header for a missing or wrong user token', async () => {
    const kas = await startKas();
    try {
      for (const headers of [{}, userAuth('wrong-token'), { authorization: 'Bearer plain-token' }]) {
        const res = await request(`${kas.proxyUrl}/api/v1/pods`, { headers });
        assert.equal(res.status, 401);
        assert.equal(res.headers[KAS_UNAUTHORIZED_HEADER], 'true');
        const status = JSON.parse(res.body) as { kind: string; message: string; code: number };
        assert.equal(status.kind, 'Status');
        assert.equal(status.code, 401);
        assert.match(status.message, /^kas-test: /);
      }
    } finally {
      await kas.stop();
    }
  });

  it('answers 401 at once to a valid token under a non-canonical agent id (pat:042:), asking no authorizer and waiting for no agent "042"', async () => {
    const asked: string[] = [];
    const kas = await startKas({
      authorizeUser: async (credential) => {
        asked.push(credential.agentId);
        return allowAsAgent(credential);
      },
    });
    try {
      for (const id of [`0${AGENT_ID}`, `+${AGENT_ID}`]) {
        const res = await request(`${kas.proxyUrl}/api/v1/pods`, { headers: { authorization: `Bearer pat:${id}:${USER_TOKEN}` } });
        assert.equal(res.status, 401, id);
        assert.equal(res.headers[KAS_UNAUTHORIZED_HEADER], 'true');
      }
      assert.deepEqual(asked, []);
    } finally {
      await kas.stop();
    }
  });

  it('answers 403 without the 401 marker when authorizeUser denies', async () => {
    const kas = await startKas({ authorizeUser: async () => ({ allowed: false, status: 403, message: 'agent 42 grants no user_access' }) });
    try {
      const res = await request(`${kas.proxyUrl}/api/v1/pods`, { headers: userAuth() });
      assert.equal(res.status, 403);
      assert.equal(res.headers[KAS_UNAUTHORIZED_HEADER], undefined, 'the reference marks only its 401s');
      assert.equal((JSON.parse(res.body) as { reason: string }).reason, 'Forbidden');
      assert.match(JSON.parse(res.body).message as string, /^kas-test: agent 42 grants no user_access$/);
    } finally {
      await kas.stop();
    }
  });

  it('answers 504 "agent <id> is not connected" after the wait when no agentk is there', async () => {
    const kas = await startKas({ agentWaitTimeoutMs: 300 });
    try {
      const res = await request(`${kas.proxyUrl}/api/v1/pods`, { headers: userAuth() });
      assert.equal(res.status, 504);
      assert.equal(res.headers[KAS_UNAUTHORIZED_HEADER], undefined);
      const status = JSON.parse(res.body) as { message: string; reason: string };
      assert.equal(status.message, `kas-test: agent ${AGENT_ID} is not connected`);
    } finally {
      await kas.stop();
    }
  });

  it('answers 400 Status outside the path prefix', async () => {
    const kas = await startKas();
    try {
      const res = await request(kas.proxyUrl.replace('/k8s-proxy', '/elsewhere'), { headers: userAuth() });
      assert.equal(res.status, 400);
      assert.equal((JSON.parse(res.body) as { kind: string }).kind, 'Status');
    } finally {
      await kas.stop();
    }
  });
});
