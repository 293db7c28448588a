// Tests wait for conditions, never for fixed times: polls a check until it holds or the budget
// (sized for a loaded machine) runs out, naming what it waited for.
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000, pollMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
