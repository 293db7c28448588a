import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough, Readable } from 'node:stream';
import type { KubeConfig, V1Status } from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import WebSocket from 'ws';
import { createExecHandler, handlePodExecUpgrade, type ExecHandler } from '../../../agent/devtools/devcluster/kubelet/exec';
import { PodLogStore } from '../../../agent/devtools/devcluster/kubelet/logs';
import type { KubeObject } from '../../../agent/devtools/devcluster/types';

/** Pods the test server knows, by name; status decides whether exec is accepted. */
const pods = new Map<string, KubeObject>();

function runningPod(name: string, env: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'demo' },
    spec: {
      containers: [
        { name: 'app', image: 'busybox', env: Object.entries(env).map(([k, v]) => ({ name: k, value: v })) },
        { name: 'sidecar', image: 'nginx' },
      ],
    },
    status: {
      phase: 'Running',
      containerStatuses: [
        { name: 'app', state: { running: {} } },
        { name: 'sidecar', state: { running: {} } },
      ],
    },
  };
}

interface ExecResult {
  stdout: string;
  stderr: string;
  status: V1Status | undefined;
}

describe('devcluster/exec', () => {
  let server: http.Server;
  let exec: ExecHandler;
  const logs = new PodLogStore();
  let baseUrl: string;
  let kubeConfig: KubeConfig;
  let k8s: typeof import('@kubernetes/client-node', { with: { 'resolution-mode': 'import' } });

  before(async () => {
    // A minimal API server front: the routing A1's server does, then the exec handler.
    exec = createExecHandler({ logs });
    server = http.createServer((_req, res) => res.writeHead(404).end());
    server.on('upgrade', (req: http.IncomingMessage, socket, head: Buffer) => {
      const url = new URL(req.url ?? '/', 'http://devcluster.invalid');
      const name = /^\/api\/v1\/namespaces\/demo\/pods\/([^/]+)\/(exec|attach)$/.exec(url.pathname)?.[1] ?? '';
      const pod = pods.get(name);
      if (!pod) return socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      // One pod goes through the process-wide handler, the rest through this server's own.
      if (name === 'shared') handlePodExecUpgrade(req, socket, head, pod, url.searchParams);
      else exec.handleUpgrade(req, socket, head, pod, url.searchParams);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // client-node is an ES module; this test file is CommonJS.
    k8s = await import('@kubernetes/client-node');
    kubeConfig = new k8s.KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: 'test', server: baseUrl, skipTLSVerify: true }],
      users: [{ name: 'test' }],
      contexts: [{ name: 'test', cluster: 'test', user: 'test' }],
      currentContext: 'test',
    });
    pods.set('web', runningPod('web', { GREETING: 'hello from env' }));
    pods.set('shared', runningPod('shared'));
    pods.set('done', { ...runningPod('done'), status: { phase: 'Succeeded', containerStatuses: [] } });
    pods.set('starting', {
      ...runningPod('starting'),
      status: { phase: 'Pending', containerStatuses: [{ name: 'app', state: { waiting: { reason: 'ContainerCreating' } } }] },
    });
  });

  after(async () => {
    exec.closeAll();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  /** Runs a command with @kubernetes/client-node's Exec, collecting output and the final Status. */
  async function clientExec(pod: string, command: string[], stdin?: Readable, container = 'app'): Promise<ExecResult> {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const result: ExecResult = { stdout: '', stderr: '', status: undefined };
    stdout.on('data', (chunk: Buffer) => (result.stdout += chunk.toString()));
    stderr.on('data', (chunk: Buffer) => (result.stderr += chunk.toString()));
    const statusReceived = new Promise<void>((resolve, reject) => {
      new k8s.Exec(kubeConfig)
        .exec('demo', pod, container, command, stdout, stderr, stdin ?? null, false, (status) => {
          result.status = status;
          resolve();
        })
        .then((ws) => ws.on('close', () => resolve()))
        .catch(reject);
    });
    await statusReceived;
    return result;
  }

  it('runs echo through client-node Exec and reports Success', async () => {
    const result = await clientExec('web', ['echo', 'hello', 'world']);
    assert.equal(result.stdout, 'hello world\n');
    assert.equal(result.status?.status, 'Success');
  });

  it('reads the fake files, the hostname and the container env', async () => {
    assert.equal((await clientExec('web', ['cat', '/etc/hostname'])).stdout, 'web\n');
    assert.match((await clientExec('web', ['cat', '/etc/os-release'])).stdout, /^NAME="Dev Cluster Linux"$/m);
    assert.equal((await clientExec('web', ['hostname'])).stdout, 'web\n');
    assert.match((await clientExec('web', ['env'])).stdout, /^GREETING=hello from env$/m);
    assert.equal((await clientExec('web', ['printenv', 'GREETING'])).stdout, 'hello from env\n');
  });

  it('runs sh -c scripts and propagates the exit code as a NonZeroExitCode Status', async () => {
    const result = await clientExec('web', ['sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.equal(result.stdout, 'out\n');
    assert.equal(result.stderr, 'err\n');
    assert.equal(result.status?.status, 'Failure');
    assert.equal(result.status?.reason, 'NonZeroExitCode');
    assert.deepEqual(result.status?.details?.causes, [{ reason: 'ExitCode', message: '3' }]);
  });

  it('answers an unknown command with exit code 127 and a message on stderr', async () => {
    const result = await clientExec('web', ['no-such-tool', '--flag']);
    assert.match(result.stderr, /"no-such-tool": executable file not found in \$PATH/);
    assert.deepEqual(result.status?.details?.causes, [{ reason: 'ExitCode', message: '127' }]);
  });

  it('echoes stdin back through cat until stdin ends', async () => {
    const result = await clientExec('web', ['cat'], Readable.from([Buffer.from('first line\n'), Buffer.from('second line\n')]));
    assert.equal(result.stdout, 'first line\nsecond line\n');
    assert.equal(result.status?.status, 'Success');
  });

  it('rejects exec into a pod that is not Running, and into an unknown container, with a 400 Status', async () => {
    for (const [pod, container, message] of [
      ['done', 'app', /cannot exec into a container in a completed pod; current phase is Succeeded/],
      ['starting', 'app', /container not found \("app"\)/],
      ['web', 'nope', /container nope is not valid for pod web/],
    ] as const) {
      const response = await fetchUpgrade(
        `/api/v1/namespaces/demo/pods/${pod}/exec?command=true&stdout=true&container=${container}`,
        'websocket',
      );
      assert.equal(response.statusCode, 400, pod);
      assert.match(JSON.parse(response.body).message, message);
    }
  });

  it('explains that SPDY upgrades are not supported', async () => {
    const response = await fetchUpgrade('/api/v1/namespaces/demo/pods/web/exec?command=true&stdout=true', 'SPDY/3.1');
    assert.equal(response.statusCode, 400);
    assert.match(JSON.parse(response.body).message, /WebSocket only/);
  });

  it('speaks v4 with a raw WebSocket: channel-prefixed frames, then a Status on channel 3', async () => {
    const frames = await rawExec('v4.channel.k8s.io', 'command=sh&command=-c&command=echo%20raw%3B%20exit%202&stdout=true&stderr=true');
    assert.equal(frames.protocol, 'v4.channel.k8s.io');
    assert.deepEqual(frames.messages[0], [1, 'raw\n']);
    const last = frames.messages[frames.messages.length - 1];
    assert.equal(last?.[0], 3);
    assert.equal(JSON.parse(last?.[1] ?? '{}').reason, 'NonZeroExitCode');
    assert.equal(frames.closeCode, 1000);
  });

  it('ends stdin with the v5 close signal and stops a program when the client leaves', async () => {
    const ws = new WebSocket(`${baseUrl.replace('http', 'ws')}/api/v1/namespaces/demo/pods/web/exec?command=cat&stdin=true&stdout=true`, [
      'v5.channel.k8s.io',
    ]);
    const received: string[] = [];
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    ws.on('message', (data: Buffer) => received.push(`${data[0]}:${data.subarray(1).toString()}`));
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('ping\n')]));
    ws.send(Buffer.from([255, 0]));
    assert.equal(await closed, 1000);
    assert.deepEqual(received, ['1:ping\n', '3:{"metadata":{},"status":"Success"}']);

    const sleeper = new WebSocket(
      `${baseUrl.replace('http', 'ws')}/api/v1/namespaces/demo/pods/web/exec?command=sleep&command=infinity&stdout=true`,
      ['v5.channel.k8s.io'],
    );
    await new Promise((resolve) => sleeper.once('open', resolve));
    assert.equal(exec.sessionCount, 1);
    const sleeperClosed = new Promise((resolve) => sleeper.on('close', resolve));
    sleeper.close();
    await sleeperClosed;
    await waitUntil(() => exec.sessionCount === 0);
  });

  it('ends every open session on closeAll, as a stopping server needs', async () => {
    const sleeper = new WebSocket(
      `${baseUrl.replace('http', 'ws')}/api/v1/namespaces/demo/pods/web/exec?command=sleep&command=infinity&stdout=true`,
      ['v5.channel.k8s.io'],
    );
    await new Promise((resolve) => sleeper.once('open', resolve));
    const closed = new Promise<number>((resolve) => sleeper.on('close', (code) => resolve(code)));
    exec.closeAll();
    assert.equal(await closed, 1006, 'the connection was cut');
    assert.equal(exec.sessionCount, 0);
  });

  it('serves exec through the process-wide handlePodExecUpgrade too', async () => {
    assert.equal((await clientExec('shared', ['hostname'])).stdout, 'shared\n');
  });

  it('runs an interactive shell on a terminal: prompt, echo, variables kept between lines, exit code', async () => {
    const ws = new WebSocket(
      `${baseUrl.replace('http', 'ws')}/api/v1/namespaces/demo/pods/web/exec?command=sh&stdin=true&stdout=true&tty=true`,
      ['v5.channel.k8s.io'],
    );
    let screen = '';
    let status = '';
    ws.on('message', (data: Buffer) => {
      if (data[0] === 1) screen += data.subarray(1).toString();
      if (data[0] === 3) status = data.subarray(1).toString();
    });
    const closed = new Promise((resolve) => ws.on('close', resolve));
    await new Promise((resolve) => ws.once('open', resolve));
    const type = (text: string) => ws.send(Buffer.concat([Buffer.from([0]), Buffer.from(text)]));
    type('NAME=dev\r');
    type('echo "hi $NAME"\r');
    type('echo typo\x7f\x7f\x7f\x7fok\r');
    type('exit 4\r');
    await closed;
    assert.ok(screen.startsWith('/ # NAME=dev\r\n/ # echo "hi $NAME"\r\nhi dev\r\n/ # '), JSON.stringify(screen));
    assert.match(screen, /\r\nok\r\n\/ # exit 4\r\n$/);
    assert.deepEqual(JSON.parse(status).details.causes, [{ reason: 'ExitCode', message: '4' }]);
  });

  it('runs a shell without a terminal line by line from stdin until it ends', async () => {
    const result = await clientExec('web', ['sh'], Readable.from([Buffer.from('echo one\nfalse\necho $?\n')]));
    assert.equal(result.stdout, 'one\n1\n');
    assert.equal(result.status?.status, 'Success', 'the last command (echo) succeeded');
  });

  it('attaches to what the container writes from now on, until it stops', async () => {
    logs.startAttempt('demo', 'web', 'app');
    logs.append('demo', 'web', 'app', 'before attach\n');
    const ws = new WebSocket(`${baseUrl.replace('http', 'ws')}/api/v1/namespaces/demo/pods/web/attach?container=app&stdout=true`, [
      'v5.channel.k8s.io',
    ]);
    const received: string[] = [];
    ws.on('message', (data: Buffer) => received.push(`${data[0]}:${data.subarray(1).toString()}`));
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    await new Promise((resolve) => ws.once('open', resolve));
    logs.append('demo', 'web', 'app', 'after attach\n');
    logs.endAttempt('demo', 'web', 'app');
    assert.equal(await closed, 1000);
    assert.deepEqual(received, ['1:after attach\n', '3:{"metadata":{},"status":"Success"}']);
  });

  it('refuses attach where no container output is available', async () => {
    const response = await fetchUpgrade('/api/v1/namespaces/demo/pods/shared/attach?stdout=true', 'websocket');
    assert.equal(response.statusCode, 400);
    assert.match(JSON.parse(response.body).message, /attach is not available/);
  });

  async function waitUntil(condition: () => boolean): Promise<void> {
    while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  async function fetchUpgrade(path: string, upgrade: string): Promise<{ statusCode: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request(`${baseUrl}${path}`, {
        headers: {
          Connection: 'Upgrade',
          Upgrade: upgrade,
          'Sec-WebSocket-Version': '13',
          'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
        },
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ statusCode: res.statusCode ?? 0, body }));
      });
      req.on('upgrade', () => reject(new Error('the upgrade was accepted')));
      req.on('error', reject);
      req.end();
    });
  }

  async function rawExec(
    protocol: string,
    query: string,
  ): Promise<{ protocol: string; messages: Array<[number, string]>; closeCode: number }> {
    const ws = new WebSocket(`${baseUrl.replace('http', 'ws')}/api/v1/namespaces/demo/pods/web/exec?${query}`, [protocol]);
    const messages: Array<[number, string]> = [];
    ws.on('message', (data: Buffer) => messages.push([data[0] ?? -1, data.subarray(1).toString()]));
    const closeCode = await new Promise<number>((resolve, reject) => {
      ws.on('close', (code) => resolve(code));
      ws.on('error', reject);
    });
    return { protocol: ws.protocol, messages, closeCode };
  }
});
