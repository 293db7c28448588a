// The system under fault: the local pair's parts (the dev cluster, kas, one agentk) as separate
// processes of the built programs, on fixed loopback ports so a restarted kas comes back where
// agentk and the clients expect it. The data dir is made by the local pair itself (startLocalPair:
// config repository, tokens, TLS) and reused. Replica mode adds a real redis-server, a second kas
// sharing the data and repository, and a TCP balancer in front of both agent listeners.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { LOCAL_PROJECT_ID, startLocalPair } from '../../agent/devtools/local_pair/index';
import { createLogger } from '../../agent/internal/log';
import { UserTokenStore } from '../../agent/modules/agent_registry/user_tokens';
import { TcpBalancer } from '../modules/replicas/harness';
import { Proc, freePort } from './procs';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
const DIST = path.join(REPO_ROOT, 'dist');
const PRIVATE_API_SECRET = 'chaos-suite-private-api-secret-of-32-bytes-or-more';

export interface KasPorts {
  agent: number;
  k8sProxy: number;
  api: number;
  observability: number;
  privateApi?: number;
}

export interface SystemOptions {
  dir: string;
  replicas: boolean;
  /** agentk's kas address is the balancer's in replica mode. */
  logLevel?: string;
}

export interface Tokens {
  agentId: number;
  /** pat:<agent id>:<user token>, what kubectl sends. */
  proxyToken: string;
  userToken: string;
  agentToken: string;
  /** A CI job token of the config project (authorized implicitly, as in the reference); sent as ci:<agent id>:<token>. */
  ciJobToken: string;
}

export class ChaosSystem {
  readonly dataDir: string;
  devcluster!: Proc;
  kas: Proc[] = [];
  kasPorts: KasPorts[] = [];
  agentk!: Proc;
  redis: Proc | undefined;
  balancer: TcpBalancer | undefined;
  tokens!: Tokens;
  clusterPort = 0;

  constructor(readonly options: SystemOptions) {
    this.dataDir = path.join(options.dir, 'pair');
  }

  get logDir(): string {
    return this.options.dir;
  }

  get caFile(): string {
    return path.join(this.dataDir, 'kas-tls', 'ca.crt');
  }

  /** The replicas' shared private API secret (replica mode only): like a token, never in a log or kas's data. */
  get privateApiSecret(): string | undefined {
    return this.options.replicas ? PRIVATE_API_SECRET : undefined;
  }

  get configRepo(): string {
    return path.join(this.dataDir, 'config-repo');
  }

  /** The kas that users reach: in replica mode the one that does NOT hold the tunnels at first. */
  get userKas(): KasPorts {
    return this.kasPorts[this.kasPorts.length - 1]!;
  }

  get k8sProxyUrl(): string {
    return `https://127.0.0.1:${this.userKas.k8sProxy}/k8s-proxy/`;
  }

  get adminKubeconfig(): string {
    return path.join(this.dataDir, 'devcluster', 'kubeconfig');
  }

  get userKubeconfig(): string {
    return path.join(this.options.dir, `kubeconfig-${this.userKas.k8sProxy}`);
  }

  processes(): Proc[] {
    return [this.devcluster, ...this.kas, this.agentk, ...(this.redis ? [this.redis] : [])];
  }

  async start(): Promise<void> {
    await this.prepareData();
    this.clusterPort = await freePort();
    this.devcluster = this.program(
      'devcluster',
      'kas-devcluster.js',
      ['--port', String(this.clusterPort), '--data-dir', path.join(this.dataDir, 'devcluster'), '--kubeconfig-out', this.adminKubeconfig],
      /dev cluster: https/,
    );
    await this.devcluster.start();
    if (this.options.replicas) await this.startRedis();
    const count = this.options.replicas ? 2 : 1;
    for (let i = 0; i < count; i++) {
      const ports: KasPorts = {
        agent: await freePort(),
        k8sProxy: await freePort(),
        api: await freePort(),
        observability: await freePort(),
        privateApi: this.options.replicas ? await freePort() : undefined,
      };
      this.kasPorts.push(ports);
      const config = this.writeKasConfig(i, ports);
      const kas = this.program(`kas${count > 1 ? `-${i + 1}` : ''}`, 'kas.js', ['--config', config], /"msg":"kas started"/);
      await kas.start();
      this.kas.push(kas);
    }
    let kasAddress = `grpc://127.0.0.1:${this.kasPorts[0]!.agent}`;
    if (this.options.replicas) {
      this.balancer = new TcpBalancer(this.kasPorts.map((p) => `127.0.0.1:${p.agent}`));
      await this.balancer.start();
      kasAddress = `grpc://${this.balancer.address}`;
    }
    this.agentk = this.program(
      'agentk',
      'agentk.js',
      [
        '--kas-address',
        kasAddress,
        '--token-file',
        path.join(this.dataDir, 'agentk-token'),
        '--kubeconfig',
        this.adminKubeconfig,
        '--observability-listen-address',
        '127.0.0.1:0',
        // agentk's default is transport v2; TUNNEL_TRANSPORT=grpc runs the suite on the gRPC tunnel alone, as the tunnel tests.
        ...(process.env.TUNNEL_TRANSPORT === 'grpc' ? ['--tunnel-transport', 'grpc'] : []),
      ],
      /"msg":"agentk started"/,
    );
    await this.agentk.start();
    writeFileSync(this.userKubeconfig, this.kubeconfigFor(this.userKas), { mode: 0o600 });
  }

  async stop(): Promise<void> {
    for (const proc of [this.agentk, ...[...this.kas].reverse(), this.redis, this.devcluster]) {
      if (!proc) continue;
      if (proc.running && proc.child?.signalCode === null) proc.signal('SIGCONT'); // a frozen one must be able to stop
      await proc.stop().catch(() => undefined);
      proc.closeLog();
    }
    await this.balancer?.stop();
  }

  /** Everything a scenario's crash check looks at. */
  crashes(): string[] {
    return this.processes().flatMap((proc) => proc.crashes);
  }

  /** The local pair writes the data dir: config repository, tokens (hashes in kas's data), TLS. */
  private async prepareData(): Promise<void> {
    const logger = createLogger({ component: 'chaos-prepare' }, { write: () => undefined });
    const pair = await startLocalPair({ dataDir: this.dataDir, freePorts: true, logger });
    await pair.stop();
    // As `kas user-token create --ci-project` does, before any kas of the suite reads the store.
    const ciJob = await new UserTokenStore(path.join(this.dataDir, 'kas')).create(
      { kind: 'ci_job', project: LOCAL_PROJECT_ID },
      'chaos-ci-job',
    );
    this.tokens = {
      agentId: pair.agentId,
      proxyToken: `pat:${pair.agentId}:${pair.userToken}`,
      userToken: pair.userToken,
      agentToken: readFileSync(path.join(this.dataDir, 'agentk-token'), 'utf8').trim(),
      ciJobToken: ciJob.token,
    };
  }

  private async startRedis(): Promise<void> {
    const port = await freePort();
    this.redis = new Proc({
      name: 'redis-server',
      command: 'redis-server',
      args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
      logFile: path.join(this.logDir, 'redis-server.log'),
      readyLine: /Ready to accept connections/,
    });
    await this.redis.start();
    this.redisPort = port;
  }

  redisPort = 0;

  private writeKasConfig(index: number, ports: KasPorts): string {
    const tls = path.join(this.dataDir, 'kas-tls');
    const kascfg: Record<string, unknown> = {
      agent: {
        listen: { address: `127.0.0.1:${ports.agent}`, websocket: true, listen_grace_period: '0s' },
        kubernetes_api: {
          listen: {
            address: `127.0.0.1:${ports.k8sProxy}`,
            certificate_file: path.join(tls, 'tls.crt'),
            key_file: path.join(tls, 'tls.key'),
          },
          url_path_prefix: '/k8s-proxy/',
        },
      },
      api: { listen: { address: `127.0.0.1:${ports.api}` } },
      observability: { listen: { address: `127.0.0.1:${ports.observability}` } },
      registry: { config_repository: this.configRepo, data_dir: path.join(this.dataDir, 'kas'), project_id: 'local/agents' },
    };
    if (this.options.replicas) {
      const secretFile = path.join(this.options.dir, 'private-api.secret');
      writeFileSync(secretFile, PRIVATE_API_SECRET, { mode: 0o600 });
      kascfg.redis = { server: { address: `127.0.0.1:${this.redisPort}` }, key_prefix: 'chaos' };
      kascfg.private_api = { listen: { address: `127.0.0.1:${ports.privateApi}` }, authentication_secret_file: secretFile };
    }
    const file = path.join(this.options.dir, `kascfg-${index + 1}.yaml`);
    writeFileSync(file, stringify(kascfg));
    return file;
  }

  private kubeconfigFor(ports: KasPorts): string {
    return stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'chaos', cluster: { server: `https://127.0.0.1:${ports.k8sProxy}/k8s-proxy`, 'certificate-authority': this.caFile } },
      ],
      users: [{ name: 'chaos', user: { token: this.tokens.proxyToken } }],
      contexts: [{ name: 'chaos', context: { cluster: 'chaos', user: 'chaos' } }],
      'current-context': 'chaos',
    });
  }

  private program(name: string, bundle: string, args: string[], readyLine: RegExp): Proc {
    return new Proc({
      name,
      command: process.execPath,
      args: [
        path.join(DIST, bundle),
        ...args,
        ...(this.options.logLevel && bundle === 'agentk.js' ? ['--log-level', this.options.logLevel] : []),
      ],
      logFile: path.join(this.logDir, `${name}.log`),
      readyLine,
    });
  }
}
