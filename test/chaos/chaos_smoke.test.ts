// A short run of the fault suite (npm run chaos runs all of it): the local pair's programs as
// processes under the suite's load, kill -9 of agentk with a restart, and garbage bytes on every
// listener; both must pass its judgement, and no token may appear in a log or kas's data dir.
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { SMOKE_SCENARIOS } from './scenarios';
import { markdownTable, runSuite, type SuiteResult } from './suite';
import { REPO_ROOT } from './system';

describe('fault suite smoke (npm run chaos runs every scenario)', function () {
  // Two scenarios of ~30 s each plus start-up, on a loaded 2-core machine.
  this.timeout(300_000);
  let suite: SuiteResult | undefined;

  before(function () {
    if (!existsSync(path.join(REPO_ROOT, 'dist', 'agentk.js'))) this.skip(); // npm test builds dist/ first
  });

  after(() => {
    if (suite && suite.results.every((r) => r.failures.length === 0)) rmSync(suite.dir, { recursive: true, force: true });
  });

  it('kill -9 agentk and garbage bytes on every listener: no crash, no hang, no request lost beyond those in flight', async () => {
    suite = await runSuite(SMOKE_SCENARIOS);
    const table = markdownTable(suite);
    assert.equal(suite.results.length, 2, table);
    for (const result of suite.results) assert.deepEqual(result.failures, [], `${result.name} (logs in ${suite.dir})\n${table}`);
    const [kill, garbage] = suite.results;
    assert.ok(kill!.load.sent > 0 && kill!.load.recoveryMs !== undefined, 'the load ran and requests succeeded after the kill');
    assert.ok(garbage!.notes.length >= 4, 'every listener got the garbage');
    assert.deepEqual(suite.tokenLeaks, []);
  });
});
