// Connect a Cluster's extension side without VS Code: the input box's name check (the shared rule,
// and taken names), and the extension's client of kas's register/install endpoints against a real
// kas, whose refusals arrive as this extension's own codes and words, never kas's text.
import assert from 'node:assert/strict';
import path from 'node:path';
import { startKas, type Kas } from '../../agent/kas/index';
import { agentNameProblem } from '../../extension/src/connect_cluster/agent_name';
import { createInstall, registerAgent } from '../../extension/src/connect_cluster/kas_admin';
import { UserFacingError } from '../../extension/src/kas_client/errors';
import type { HttpTarget } from '../../extension/src/kas_client/http';
import { TestRepository, makeTempDir, testKasConfig, testLogger } from '../kas/helpers';

describe('Connect a Cluster (extension side)', function () {
  this.timeout(60_000);

  it('refuses invalid and taken names in the input box, with the shared rule', () => {
    assert.equal(agentNameProblem('staging', ['dev']), undefined);
    assert.equal(agentNameProblem(' staging ', ['dev']), undefined);
    assert.match(agentNameProblem('Bad_Name', [])!, /DNS label/);
    assert.match(agentNameProblem('', [])!, /must not be empty/);
    assert.match(agentNameProblem('x'.repeat(64), [])!, /at most 63/);
    assert.match(agentNameProblem('dev', ['dev'])!, /exists already/);
  });

  describe('client of a real kas', () => {
    let temp: ReturnType<typeof makeTempDir>;
    let kas: Kas;
    let member: HttpTarget;
    let stranger: HttpTarget;

    before(async () => {
      temp = makeTempDir('ext-connect-');
      new TestRepository(temp.dir).commit({ '.gitlab/agents/dev/config.yaml': '{}\n' }, 'agent dev');
      kas = await startKas(testKasConfig(path.join(temp.dir, 'config-repo'), path.join(temp.dir, 'data')), testLogger());
      const target = async (groups: string[]): Promise<HttpTarget> => ({
        baseUrl: kas.apiUrl,
        authorization: `Bearer ${(await kas.registry.userTokens.create({ kind: 'user', username: 'u', groups, projects: [] })).token}`,
        unauthorizedMeansKas: true,
      });
      member = await target(['team']);
      stranger = await target(['other']);
    });

    after(async () => {
      await kas.stop();
      temp.remove();
    });

    const refusedWith = (code: string) => (err: unknown) => err instanceof UserFacingError && err.code === code;

    it('registers, then creates the token and manifest; refusals carry our codes', async () => {
      const registered = await registerAgent(member, 'staging');
      assert.equal(registered.agent.name, 'staging');
      const install = await createInstall(member, registered.agent.id);
      assert.equal(install.agentName, 'staging');
      assert.match(install.manifest, /gitlab-agent-staging-token/);
      assert.match(install.installCommand, /\| kubectl apply -f -$/);
      assert.ok(await kas.registry.agentTokens.authenticate(install.token.value));

      await assert.rejects(registerAgent(member, 'staging'), refusedWith('AGENT_EXISTS'));
      await assert.rejects(registerAgent(member, 'Bad_Name'), refusedWith('INVALID_AGENT_NAME'));
      await assert.rejects(registerAgent(stranger, 'mine'), refusedWith('FORBIDDEN'));
      await createInstall(member, registered.agent.id);
      await assert.rejects(createInstall(member, registered.agent.id), refusedWith('TOKEN_LIMIT'));
      await assert.rejects(createInstall(member, 999), refusedWith('NOT_FOUND'));
    });
  });
});
