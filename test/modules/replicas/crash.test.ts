// kill -9 of the replica holding an agent's tunnels: that replica runs as its own process (the
// bundled kas program), the other in-process; agentk reaches them through a TCP load balancer.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { stringify } from 'yaml';
import { runAgentk, type Agentk } from '../../../agent/agentk/index';
import { testLogger } from '../../kas/helpers';
import { startUpstream, writeKubeconfig, type Upstream } from '../reverse_tunnel/harness';
import { RedisServer, TcpBalancer, get, prepareFleet, waitFor, type Fleet } from './harness';

const KAS_PROGRAM = path.join('dist', 'kas.js');

interface KasProcess {
  child: ChildProcess;
  agentAddress: string;
}

/** Starts dist/kas.js and reads its listener addresses from its "kas started" log line. */
async function startKasProcess(configFile: string): Promise<KasProcess> {
  const child = spawn(process.execPath, [KAS_PROGRAM, '--config', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  const lines = createInterface({ input: child.stderr! });
  const agentAddress = await new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => {
      const entry = JSON.parse(line) as { msg?: string; agentAddress?: string };
      if (entry.msg === 'kas started' && entry.agentAddress) resolve(entry.agentAddress);
    });
    child.once('exit', (code) => reject(new Error(`kas exited early (${code})`)));
  });
  return { child, agentAddress };
}

describe('kas replicas: kill -9 of the replica holding the tunnels', function () {
  this.timeout(90_000);
  let redis: RedisServer;
  let fleet: Fleet;
  let upstream: Upstream;
  let balancer: TcpBalancer | undefined;
  let agentk: Agentk | undefined;
  let crashing: KasProcess | undefined;

  before(function () {
    if (!existsSync(KAS_PROGRAM)) this.skip(); // npm test builds dist/ first
  });

  after(async () => {
    await agentk?.stop();
    await balancer?.stop();
    if (crashing && crashing.child.exitCode === null) crashing.child.kill('SIGKILL');
    for (const kas of fleet?.replicas ?? []) await kas.stop();
    await upstream?.stop();
    await redis?.kill();
    fleet?.remove();
  });

  it('agentk reconnects to the surviving replica and requests resume; the gap is measured', async () => {
    redis = await RedisServer.start();
    fleet = prepareFleet(redis);
    const survivor = await fleet.startReplica();
    const configFile = path.join(fleet.dir, 'kascfg.yaml');
    writeFileSync(
      configFile,
      stringify({
        agent: { listen: { address: '127.0.0.1:0', listen_grace_period: '0s' }, kubernetes_api: { listen: { address: '127.0.0.1:0' } } },
        observability: { listen: { address: '127.0.0.1:0' } },
        api: { listen: { address: '127.0.0.1:0' } },
        registry: { config_repository: fleet.repo.dir, data_dir: path.join(fleet.dir, 'data'), project_id: 'team/agents' },
        redis: { server: { address: redis.address }, key_prefix: 'kas-test', tracker_refresh_period: '1m', tracker_ttl: '2m' },
        private_api: { listen: { address: '127.0.0.1:0' }, authentication_secret_file: path.join(fleet.dir, 'private-api.secret') },
      }),
    );
    crashing = await startKasProcess(configFile);
    const agentId = survivor.registry.watcher.agentByName('alpha')!.id;
    const userToken = (await survivor.registry.userTokens.create({ kind: 'user', username: 'ada', groups: ['platform'], projects: [] }))
      .token;
    const agentToken = (await survivor.registry.agentTokens.create('alpha')).token;
    upstream = await startUpstream();
    balancer = new TcpBalancer([crashing.agentAddress]);
    await balancer.start();
    agentk = await runAgentk({
      kasAddress: `grpc://${balancer.address}`,
      token: agentToken,
      kubeconfig: await writeKubeconfig(fleet.dir, upstream.url),
      observabilityAddress: null,
      podName: 'alpha-1',
      podNamespace: 'agents',
      logger: testLogger(),
    });
    const request = () => get(`${survivor.k8sProxyUrl}api/v1/namespaces`, `pat:${agentId}:${userToken}`);
    await waitFor('alpha served by the survivor through the other process', async () =>
      (await request()).status === 200 ? true : undefined,
    );
    assert.equal(survivor.tunnels.connectedAgents().length, 0, 'the survivor holds no tunnel of its own yet: the request was routed');

    balancer.backends = [survivor.agentAddress];
    const killedAt = Date.now();
    crashing.child.kill('SIGKILL');
    await waitFor('alpha served again after the kill', async () => ((await request()).status === 200 ? true : undefined), 60_000);
    const gapMs = Date.now() - killedAt;
    console.log(`      alpha unavailable for ${gapMs} ms after kill -9 of its replica`);
    assert.equal(survivor.tunnels.connectedAgents()[0]?.agentId, String(agentId), 'agentk now holds tunnels to the survivor');
    for (let i = 0; i < 5; i++)
      assert.equal((await request()).status, 200, 'requests keep working despite the dead replica’s records in Redis');
  });
});
