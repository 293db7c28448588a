// Runs a command and ends it when the test process disappears without cleaning up (a crash of
// the mocha process skips after hooks). Started as: node -e <WATCHDOG_SOURCE> <parentPid> <root>
// <command> <args...>. On the parent's death: SIGTERM to the command, then after a grace period
// SIGKILL to every process whose command line names <root> (our unique temp folder).
export const WATCHDOG_SOURCE = `
const { spawn } = require('node:child_process');
const { readdirSync, readFileSync } = require('node:fs');
const [parentPid, root, command, ...args] = process.argv.slice(1);
const child = spawn(command, args, { stdio: 'inherit' });
const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
const mentioning = () => readdirSync('/proc').filter((p) => /^\\d+$/.test(p) && Number(p) !== process.pid)
  .filter((p) => { try { return readFileSync('/proc/' + p + '/cmdline', 'utf8').includes(root); } catch { return false; } });
const timer = setInterval(() => {
  if (alive(Number(parentPid))) return;
  clearInterval(timer);
  child.kill('SIGTERM');
  setTimeout(() => { for (const p of mentioning()) { try { process.kill(Number(p), 'SIGKILL'); } catch {} } process.exit(1); }, 5000);
}, 1000);
child.on('exit', (code) => { clearInterval(timer); process.exit(code ?? 1); });
process.on('SIGTERM', () => child.kill('SIGTERM'));
`;
