// The private API's own rules: signed one-minute tokens; a listener that refuses connections
// without a valid token and answers "none" for an agent it holds no idle tunnel to; the routing
// side's pool of connections (reused, bounded, stale ones discarded); TLS with a CA.
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { createLogger } from '../../../agent/internal/log';
import { createCertificateAuthority, issueServerCertificate, LOOPBACK_HOSTS } from '../../../agent/internal/tls';
import {
  MAX_IDLE_CONNECTIONS_PER_PEER,
  PrivateApiClient,
  PrivateApiTokenError,
  RoutingTunnelFinder,
  signPrivateApiToken,
  startPrivateApiServer,
  verifyPrivateApiToken,
  type PrivateApiClientOptions,
  type PrivateApiServer,
} from '../../../agent/modules/replicas';
import { TunnelRegistry } from '../../../agent/modules/reverse_tunnel';
import { testLogger } from '../../kas/helpers';
import { SECRET, freePort } from './harness';

const secret = Buffer.from(SECRET);

describe('kas private API', () => {
  describe('tokens', () => {
    it('accepts its own fresh token', () => {
      verifyPrivateApiToken(secret, signPrivateApiToken(secret));
    });

    it('refuses a token signed with another secret, an expired one and garbage, saying why', () => {
      assert.throws(
        () => verifyPrivateApiToken(secret, signPrivateApiToken(Buffer.from('another secret of at least 32 bytes!!'))),
        /bad signature/,
      );
      assert.throws(() => verifyPrivateApiToken(secret, signPrivateApiToken(secret, Date.now() - 5 * 60_000)), /expired/);
      assert.throws(() => verifyPrivateApiToken(secret, 'not-a-token'), PrivateApiTokenError);
    });

    it('refuses a token whose claims were changed after signing', () => {
      const [, signature] = signPrivateApiToken(secret).split('.');
      const forged = Buffer.from(JSON.stringify({ aud: 'kas-private-api', iat: 0, exp: 9e9 })).toString('base64url');
      assert.throws(() => verifyPrivateApiToken(secret, `${forged}.${signature}`), /bad signature/);
    });
  });

  describe('listener and pooled client', () => {
    let server: PrivateApiServer;
    let port: number;
    const registry = new RoutingTunnelFinder(new TunnelRegistry());
    const clients: PrivateApiClient[] = [];
    const newClient = (options: Partial<PrivateApiClientOptions> = {}) => {
      const client = new PrivateApiClient({ secret, logger: testLogger(), ...options });
      clients.push(client);
      return client;
    };
    const startServer = () =>
      startPrivateApiServer({
        address: `127.0.0.1:${port}`,
        secret,
        claimLocalTunnel: (id) => registry.claimLocalTunnel(id),
        logger: testLogger(),
      });

    before(async () => {
      port = await freePort();
      server = await startServer();
    });

    after(async () => {
      for (const client of clients) client.close();
      await server.stop();
      registry.close();
    });

    const upgradeStatus = (token: string | undefined) =>
      new Promise<number>((resolve, reject) => {
        const headers: Record<string, string> = {
          connection: 'Upgrade',
          upgrade: 'websocket',
          'sec-websocket-version': '13',
          'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        };
        if (token) headers['authorization'] = `Bearer ${token}`;
        const req = http.get(`http://${server.address}/tunnels`, { headers, agent: false });
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('upgrade', (_res, socket) => {
          socket.destroy();
          resolve(101);
        });
        req.on('error', reject);
      });

    it('answers 401 without a token or with a bad one', async () => {
      assert.equal(await upgradeStatus(undefined), 401);
      assert.equal(await upgradeStatus(signPrivateApiToken(Buffer.from('wrong secret, still 32 bytes long..'))), 401);
      assert.equal(await upgradeStatus(signPrivateApiToken(secret)), 101);
    });

    it('answers "none" at once when it holds no idle tunnel, and the connection is reused for the next claim', async () => {
      const client = newClient();
      const url = `http://${server.address}`;
      const acceptedBefore = server.connectionsAccepted();
      for (let i = 0; i < 5; i++) assert.equal(await client.claimRemoteTunnel(url, '7'), undefined);
      assert.equal(client.connectionsOpened(url), 1, 'one connection for five claims');
      assert.equal(client.idleConnections(url), 1);
      assert.equal(server.connectionsAccepted() - acceptedBefore, 1);
    });

    it('keeps at most a bounded number of idle connections per peer', async () => {
      const client = newClient();
      const url = `http://${server.address}`;
      await Promise.all(Array.from({ length: MAX_IDLE_CONNECTIONS_PER_PEER + 4 }, () => client.claimRemoteTunnel(url, '7')));
      assert.equal(client.connectionsOpened(url), MAX_IDLE_CONNECTIONS_PER_PEER + 4, 'concurrent claims each need a connection');
      assert.equal(client.idleConnections(url), MAX_IDLE_CONNECTIONS_PER_PEER);
    });

    it('discards a pooled connection the peer closed (restart) and carries on with a fresh one', async () => {
      const client = newClient();
      const url = `http://${server.address}`;
      assert.equal(await client.claimRemoteTunnel(url, '7'), undefined);
      await server.stop();
      server = await startServer(); // same port: the same URL, a new process as far as the client knows
      let unreachable = false;
      assert.equal(await client.claimRemoteTunnel(url, '7', () => (unreachable = true)), undefined);
      assert.equal(unreachable, false, 'the restarted peer answered');
      assert.equal(client.connectionsOpened(url), 2);
      assert.equal(server.connectionsAccepted(), 1);
      assert.equal(client.idleConnections(url), 1);
    });

    it('a replica that cannot be reached is skipped, not waited for, and reported as unreachable', async () => {
      let unreachable = false;
      assert.equal(await newClient().claimRemoteTunnel('http://127.0.0.1:1', '7', () => (unreachable = true)), undefined);
      assert.equal(unreachable, true);
    });
  });

  describe('TLS', () => {
    const ca = createCertificateAuthority('private-api-test-ca');
    const otherCa = createCertificateAuthority('some-other-ca');
    let server: PrivateApiServer;
    const registry = new RoutingTunnelFinder(new TunnelRegistry());
    const clients: PrivateApiClient[] = [];

    before(async () => {
      const cert = issueServerCertificate(ca, LOOPBACK_HOSTS);
      server = await startPrivateApiServer({
        address: '127.0.0.1:0',
        secret,
        tls: { certPem: cert.certPem, keyPem: cert.keyPem },
        claimLocalTunnel: (id) => registry.claimLocalTunnel(id),
        logger: testLogger(),
      });
    });

    after(async () => {
      for (const client of clients) client.close();
      await server.stop();
      registry.close();
    });

    it('a peer that trusts the CA talks to the listener over https', async () => {
      const client = new PrivateApiClient({ secret, caPem: ca.certPem, logger: testLogger() });
      clients.push(client);
      let unreachable = false;
      assert.equal(await client.claimRemoteTunnel(`https://${server.address}`, '7', () => (unreachable = true)), undefined);
      assert.equal(unreachable, false);
      assert.equal(client.connectionsOpened(`https://${server.address}`), 1);
    });

    it('a peer with the wrong CA is refused and logs why', async () => {
      const lines: string[] = [];
      const client = new PrivateApiClient({
        secret,
        caPem: otherCa.certPem,
        logger: createLogger({}, { write: (line) => lines.push(line) }),
      });
      clients.push(client);
      let unreachable = false;
      assert.equal(await client.claimRemoteTunnel(`https://${server.address}`, '7', () => (unreachable = true)), undefined);
      assert.equal(unreachable, true);
      assert.equal(client.connectionsOpened(`https://${server.address}`), 0);
      assert.match(lines.join('\n'), /cannot verify the TLS certificate of another replica's private API.*ca_certificate_file/);
    });

    it('a plain-HTTP peer URL for a TLS listener fails cleanly', async () => {
      let unreachable = false;
      const client = new PrivateApiClient({ secret, logger: testLogger() });
      clients.push(client);
      assert.equal(await client.claimRemoteTunnel(`http://${server.address}`, '7', () => (unreachable = true)), undefined);
      assert.equal(unreachable, true);
    });
  });
});
