// The private API's own rules: signed one-minute tokens, and a listener that refuses requests
// without a valid token or for an agent it holds no idle tunnel to.
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { claimRemoteTunnel, PrivateApiTokenError, RoutingTunnelRegistry, signPrivateApiToken, startPrivateApiServer, verifyPrivateApiToken, type PrivateApiServer } from '../../agent/modules/kas_private_api';
import { testLogger } from '../kas/helpers';
import { SECRET } from './harness';

const secret = Buffer.from(SECRET);

describe('kas private API', () => {
  describe('tokens', () => {
    it('accepts its own fresh token', () => {
      verifyPrivateApiToken(secret, signPrivateApiToken(secret));
    });

    it('refuses a token signed with another secret, an expired one and garbage, saying why', () => {
      assert.throws(() => verifyPrivateApiToken(secret, signPrivateApiToken(Buffer.from('another secret of at least 32 bytes!!'))), /bad signature/);
      assert.throws(() => verifyPrivateApiToken(secret, signPrivateApiToken(secret, Date.now() - 5 * 60_000)), /expired/);
      assert.throws(() => verifyPrivateApiToken(secret, 'not-a-token'), PrivateApiTokenError);
    });

    it('refuses a token whose claims were changed after signing', () => {
      const [, signature] = signPrivateApiToken(secret).split('.');
      const forged = Buffer.from(JSON.stringify({ aud: 'kas-private-api', iat: 0, exp: 9e9 })).toString('base64url');
      assert.throws(() => verifyPrivateApiToken(secret, `${forged}.${signature}`), /bad signature/);
    });
  });

  describe('listener', () => {
    let server: PrivateApiServer;
    const registry = new RoutingTunnelRegistry();

    before(async () => {
      server = await startPrivateApiServer({ address: '127.0.0.1:0', secret, claimLocalTunnel: (id) => registry.claimLocalTunnel(id), logger: testLogger() });
    });

    after(async () => {
      await server.stop();
      registry.close();
    });

    const upgradeStatus = (token: string | undefined) =>
      new Promise<number>((resolve, reject) => {
        const headers: Record<string, string> = { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' };
        if (token) headers['authorization'] = `Bearer ${token}`;
        const req = http.get(`http://${server.address}/tunnel/7`, { headers, agent: false });
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
    });

    it('answers 404 at once when it holds no idle tunnel to the agent, and the router moves on', async () => {
      assert.equal(await upgradeStatus(signPrivateApiToken(secret)), 404);
      assert.equal(await claimRemoteTunnel(`http://${server.address}`, '7', secret), undefined);
    });

    it('a replica that cannot be reached is skipped, not waited for', async () => {
      assert.equal(await claimRemoteTunnel('http://127.0.0.1:1', '7', secret), undefined);
    });
  });
});
