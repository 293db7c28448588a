// Go duration strings ("300ms", "1m30s", "2h"): the form kascfg uses for its durations and
// cron's `@every <duration>` takes. Shared so that both read them the same way.

const DURATION_UNITS_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a Go duration string into milliseconds; undefined if malformed. */
export function parseDuration(text: string): number | undefined {
  if (text === '0') return 0;
  const pattern = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
    total += Number(match[1]) * DURATION_UNITS_MS[match[2]!]!;
    consumed = pattern.lastIndex;
  }
  return consumed === text.length && consumed > 0 ? total : undefined;
}
