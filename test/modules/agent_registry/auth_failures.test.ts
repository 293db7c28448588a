// Failed credentials are slowed down and then refused (issue 13, defect 9): a real kas, real HTTP
// requests on its Kubernetes API proxy and REST API. Attacks come from one loopback address and
// from many (127.0.0.2 ... are loopback too on Linux), against one agent id and many; a valid user
// keeps working throughout.
import { strict as assert } from 'node:assert';
import * as http from 'node:http';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { startKas, type Kas } from '../../../agent/kas/index';
import { TestRepository, makeTempDir, testKasConfig, testLogger } from '../../kas/helpers';

const CONFIG_PATH = '.gitlab/agents/dev/config.yaml';
const DELAY_AFTER = 3;
const REFUSE_AFTER = 10;
const MAX_DELAY_MS = 200;

interface Answer {
  status: number;
  retryAfter?: string;
  ms: number;
}

function get(url: string, authorization: string, localAddress?: string): Promise<Answer> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { authorization }, agent: false, localAddress }, (res) => {
      res.resume();
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined, ms: Date.now() - started }),
      );
    });
    req.on('error', reject);
  });
}

/** Runs `total` requests, `concurrency` at a time. */
async function flood(total: number, concurrency: number, one: (i: number) => Promise<Answer>): Promise<Answer[]> {
  const answers: Answer[] = [];
  let next = 0;
  const worker = async () => {
    while (next < total) answers.push(await one(next++));
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return answers;
}

const bogus = () => randomBytes(16).toString('base64url');
const byStatus = (answers: Answer[], status: number) => answers.filter((a) => a.status === status);

describe('failed credentials: slowed down, then refused with 429 and Retry-After', function () {
  this.timeout(60_000);
  let temp: ReturnType<typeof makeTempDir>;
  let kas: Kas;
  let userToken: string;
  let agentId: number;

  beforeEach(async () => {
    temp = makeTempDir();
    const repo = new TestRepository(temp.dir);
    repo.commit({ [CONFIG_PATH]: 'user_access:\n  access_as:\n    agent: {}\n  groups:\n    - id: platform\n' });
    const failures = { delay_after: DELAY_AFTER, refuse_after: REFUSE_AFTER, window: '1m', max_delay: `${MAX_DELAY_MS}ms` };
    // No agentk: a request that passes authentication ends 504 "not connected" after agent_wait_timeout.
    const config = testKasConfig(repo.dir, path.join(temp.dir, 'data'), {
      kas: { agent_wait_timeout: '50ms', authentication_failures: failures },
    });
    kas = await startKas(config, testLogger());
    agentId = await kas.registry.agentIds.idFor('dev');
    userToken = (await kas.registry.userTokens.create({ kind: 'user', username: 'ada', groups: ['platform'], projects: [] })).token;
  });
  afterEach(async () => {
    await kas.stop();
    temp.remove();
  });

  const proxyUrl = () => `${kas.k8sProxyUrl}api/v1/pods`;
  const apiUrl = () => `${kas.apiUrl}api/v1/agents`;

  it('k8s proxy: 300 different bogus pat: tokens from one address, while a valid user keeps working', async () => {
    const valid = () => get(proxyUrl(), `Bearer pat:${agentId}:${userToken}`);
    assert.equal((await valid()).status, 504, 'the valid user passes authentication before the attack');
    const during: Answer[] = [];
    let attacking = true;
    const validUser = (async () => {
      while (attacking) during.push(await valid());
    })();
    const answers = await flood(300, 30, (i) => get(proxyUrl(), `Bearer pat:${1000 + i}:${bogus()}`));
    attacking = false;
    await validUser;
    const unauthorized = byStatus(answers, 401);
    const refused = byStatus(answers, 429);
    assert.equal(unauthorized.length + refused.length, 300);
    assert.equal(unauthorized.length, REFUSE_AFTER, 'only refuse_after attempts reach a token lookup');
    for (const answer of refused) assert.ok(Number(answer.retryAfter) >= 1, `Retry-After: ${answer.retryAfter}`);
    const slowest = Math.max(...unauthorized.map((a) => a.ms));
    assert.ok(slowest >= MAX_DELAY_MS, `failures past delay_after are answered late (slowest ${slowest} ms)`);
    assert.ok(during.length > 0 && during.every((a) => a.status === 504), `valid user saw ${[...new Set(during.map((a) => a.status))]}`);
  });

  it('k8s proxy: one agent id attacked from 30 addresses is refused per agent id', async () => {
    // The valid user has worked before (kas knows the token): the attack must not lock it out.
    assert.equal((await get(proxyUrl(), `Bearer pat:${agentId}:${userToken}`)).status, 504);
    const answers = await flood(60, 10, (i) => get(proxyUrl(), `Bearer pat:${agentId}:${bogus()}`, `127.0.0.${2 + (i % 30)}`));
    assert.equal(byStatus(answers, 401).length, REFUSE_AFTER);
    assert.equal(byStatus(answers, 429).length, 60 - REFUSE_AFTER);
    // Its valid user still gets through (from the attackers' own addresses too).
    assert.equal((await get(proxyUrl(), `Bearer pat:${agentId}:${userToken}`, '127.0.0.2')).status, 504);
    // Another agent's id from an unused address is not refused.
    assert.equal((await get(proxyUrl(), `Bearer pat:7777:${bogus()}`, '127.0.0.100')).status, 401);
  });

  it('a valid token this kas has never checked gets through an address and an agent id over the limit, and 50 at once are not counted', async () => {
    const refused = await flood(40, 10, () => get(proxyUrl(), `Bearer pat:${agentId}:${bogus()}`));
    assert.equal(byStatus(refused, 429).length, 40 - REFUSE_AFTER, 'the address and the agent id are over the limit');
    // As after a restart of kas: a token no check on this kas has seen yet, its first use many requests at once.
    const fresh = (await kas.registry.userTokens.create({ kind: 'user', username: 'bob', groups: ['platform'], projects: [] })).token;
    const answers = await flood(50, 50, () => get(proxyUrl(), `Bearer pat:${agentId}:${fresh}`));
    assert.deepEqual([...new Set(answers.map((a) => a.status))], [504], 'every request of the valid user passes authentication');
    assert.equal((await get(proxyUrl(), `Bearer pat:${agentId}:${bogus()}`)).status, 429, 'failures stay refused');
  });

  it('REST API: 300 bogus tokens get 429 with Retry-After past the limit; a valid user keeps getting 200', async () => {
    assert.equal((await get(apiUrl(), `Bearer ${userToken}`)).status, 200);
    const answers = await flood(300, 30, () => get(apiUrl(), `Bearer ${bogus()}`));
    assert.equal(byStatus(answers, 401).length, REFUSE_AFTER);
    assert.equal(byStatus(answers, 429).length, 300 - REFUSE_AFTER);
    assert.ok(byStatus(answers, 429).every((a) => Number(a.retryAfter) >= 1));
    assert.equal((await get(apiUrl(), `Bearer ${userToken}`)).status, 200);
    // The proxy shares the count: the same address is refused there too.
    assert.equal((await get(proxyUrl(), `Bearer pat:${agentId}:${bogus()}`)).status, 429);
  });
});
