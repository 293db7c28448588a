// A dev cluster in a temp dir for a mocha suite: start it in before(), stop it (and remove
// its dir) in after(). The kubeconfig is written into the temp dir.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import https from 'node:https';
import { createLogger } from '../../agent/internal/log';
import { startDevCluster, type DevCluster, type DevClusterOptions } from '../../agent/devtools/devcluster/index';

export interface TestCluster {
  cluster: DevCluster;
  dir: string;
  dataDir: string;
  kubeconfig: string;
  stop(): Promise<void>;
}

/** Quiet unless DEVCLUSTER_LOG is set: test output stays readable. */
function testLogger() {
  return createLogger({ component: 'devcluster' }, { level: process.env.DEVCLUSTER_LOG ? 'debug' : 'error' });
}

export async function makeTempDir(prefix = 'devcluster-test-'): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

/** Starts a dev cluster with its data dir and kubeconfig in `dir` (a new temp dir by default). */
export async function startTestCluster(options: Partial<DevClusterOptions> & { dir?: string } = {}): Promise<TestCluster> {
  const ownsDir = options.dir === undefined;
  const dir = options.dir ?? (await makeTempDir());
  const dataDir = path.join(dir, 'data');
  const kubeconfig = path.join(dir, 'kubeconfig');
  const cluster = await startDevCluster({ dataDir, kubeconfigOut: kubeconfig, logger: testLogger(), ...options });
  return {
    cluster,
    dir,
    dataDir,
    kubeconfig,
    async stop() {
      await cluster.stop();
      if (ownsDir) await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Registers before/after hooks in the current mocha suite that start and stop a dev cluster;
 * call the returned function inside tests to get it.
 */
export function useTestCluster(options: Partial<DevClusterOptions> = {}): () => TestCluster {
  let running: TestCluster | undefined;
  before(async () => {
    running = await startTestCluster(options);
  });
  after(async () => {
    await running?.stop();
    running = undefined;
  });
  return () => {
    if (!running) throw new Error('the dev cluster is not running (use it inside tests of the suite that called useTestCluster)');
    return running;
  };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json(): unknown;
}

/** One HTTPS request to the cluster with the admin token (or the given headers). */
export function request(
  cluster: DevCluster,
  method: string,
  pathname: string,
  options: { body?: string | Buffer; headers?: Record<string, string>; token?: string | null } = {},
): Promise<RawResponse> {
  const url = new URL(pathname, cluster.url);
  const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
  const token = options.token === undefined ? cluster.adminToken : options.token;
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  if (options.body !== undefined && !headers['Content-Type']) headers['Content-Type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers, ca: cluster.caPem, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) as unknown });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}
