// The private API over TLS between real kas replicas sharing a real Redis: requests are routed
// through a replica whose private API serves HTTPS, and a replica configured with the wrong CA
// cannot route (its requests wait and end with 504) and says why in its log.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { runAgentk, type Agentk } from '../../../agent/agentk/index';
import { createLogger } from '../../../agent/internal/log';
import { createCertificateAuthority, issueServerCertificate, LOOPBACK_HOSTS } from '../../../agent/internal/tls';
import type { Kas } from '../../../agent/kas/index';
import { testLogger } from '../../kas/helpers';
import { startUpstream, writeKubeconfig, type Upstream } from '../reverse_tunnel/harness';
import { RedisServer, get, prepareFleet, waitFor, type Fleet } from './harness';

describe('kas replicas: private API over TLS', function () {
  this.timeout(90_000);
  let redis: RedisServer;
  let fleet: Fleet;
  let upstream: Upstream;
  let agentk: Agentk | undefined;
  let holder: Kas;
  let router: Kas;
  let misconfigured: Kas;
  const misconfiguredLog: string[] = [];
  let credential: string;

  /** Writes the files a replica's private_api.listen needs: its certificate and key, and the CA it trusts. */
  function tlsSettings(
    dir: string,
    name: string,
    signer: ReturnType<typeof createCertificateAuthority>,
    trusted: ReturnType<typeof createCertificateAuthority>,
  ) {
    const cert = issueServerCertificate(signer, LOOPBACK_HOSTS);
    const files = {
      certificate_file: path.join(dir, `${name}.crt`),
      key_file: path.join(dir, `${name}.key`),
      ca_certificate_file: path.join(dir, `${name}-ca.crt`),
    };
    writeFileSync(files.certificate_file, cert.certPem);
    writeFileSync(files.key_file, cert.keyPem);
    writeFileSync(files.ca_certificate_file, trusted.certPem);
    return { private_api: { listen: files } };
  }

  before(async () => {
    const ca = createCertificateAuthority('replicas-ca');
    const wrongCa = createCertificateAuthority('not-the-replicas-ca');
    redis = await RedisServer.start();
    fleet = prepareFleet(redis, { waitTimeout: '2s' });
    holder = await fleet.startReplica(tlsSettings(fleet.dir, 'holder', ca, ca));
    router = await fleet.startReplica(tlsSettings(fleet.dir, 'router', ca, ca));
    misconfigured = await fleet.startReplica(
      tlsSettings(fleet.dir, 'misconfigured', ca, wrongCa),
      createLogger({}, { write: (line) => misconfiguredLog.push(line) }),
    );
    const agentId = holder.registry.watcher.agentByName('alpha')!.id;
    const userToken = (await holder.registry.userTokens.create({ kind: 'user', username: 'ada', groups: ['platform'], projects: [] }))
      .token;
    credential = `pat:${agentId}:${userToken}`;
    upstream = await startUpstream();
    const agentToken = (await holder.registry.agentTokens.create('alpha')).token;
    agentk = await runAgentk({
      kasAddress: `grpc://${holder.agentAddress}`,
      token: agentToken,
      kubeconfig: await writeKubeconfig(fleet.dir, upstream.url),
      observabilityAddress: null,
      podName: 'alpha-1',
      podNamespace: 'agents',
      logger: testLogger(),
    });
  });

  after(async () => {
    await agentk?.stop();
    for (const kas of fleet?.replicas ?? []) await kas.stop();
    await upstream?.stop();
    await redis?.kill();
    fleet?.remove();
  });

  it('replicas advertise https:// private API URLs', () => {
    for (const kas of [holder, router, misconfigured]) assert.match(kas.privateApiUrl ?? '', /^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('routes requests through another replica over TLS', async () => {
    const request = () => get(`${router.k8sProxyUrl}api/v1/namespaces`, credential);
    await waitFor('alpha routed through the holder', async () => ((await request()).status === 200 ? true : undefined));
    for (let i = 0; i < 5; i++) assert.equal((await request()).status, 200);
    assert.equal(
      router.tunnels.connectedAgents().length,
      0,
      'the router holds no tunnel of its own: the requests went over the private API',
    );
  });

  it('a replica with the wrong CA cannot route, answers 504, and logs that the certificate could not be verified', async () => {
    await waitFor(
      'the misconfigured replica knows where alpha is',
      async () =>
        (await get(`${misconfigured.apiUrl}api/v1/agents/${credential.split(':')[1]}`, credential.split(':')[2]!)).body.includes(
          'alpha-1',
        ) || undefined,
    );
    const answer = await get(`${misconfigured.k8sProxyUrl}api/v1/namespaces`, credential);
    assert.equal(answer.status, 504, answer.body);
    const verifyErrors = misconfiguredLog.filter((line) => /cannot verify the TLS certificate of another replica's private API/.test(line));
    assert.ok(verifyErrors.length > 0, 'a clear error in the log');
    assert.match(verifyErrors[0]!, /ca_certificate_file/);
    assert.match(
      verifyErrors[0]!,
      new RegExp(holder.privateApiUrl!.replace(/[.:/]/g, '\\$&')),
      'the log names the replica it could not verify',
    );
  });
});
