// Cron schedules as CronJobs take them: five fields (minute hour day-of-month month
// day-of-week; `*`, lists, ranges, `*/step`, `a-b/step`, month and day names), the @hourly /
// @daily / @weekly / @monthly / @yearly descriptors, and `@every <duration>` (robfig/cron's form,
// which Kubernetes accepts; handy for tests that cannot wait a minute). Times are UTC.

export class CronSyntaxError extends Error {
  override name = 'CronSyntaxError';
}

export interface CronSchedule {
  /** The first scheduled time strictly after `after` (ms), or undefined within a year. */
  next(after: number): number | undefined;
  /** Whole seconds of the schedule's unit: a Job's name suffix is the time in this unit. */
  readonly unitSeconds: number;
}

const DESCRIPTORS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};
const NAMES: Record<string, number> = {
  jan: 1,
  feb: 2,
  mar: 3,
  apr: 4,
  may: 5,
  jun: 6,
  jul: 7,
  aug: 8,
  sep: 9,
  oct: 10,
  nov: 11,
  dec: 12,
  sun: 0,
  mon: 1,
  tue: 2,
  wed: 3,
  thu: 4,
  fri: 5,
  sat: 6,
};
const RANGES: Array<[number, number]> = [
  [0, 59],
  [0, 23],
  [1, 31],
  [1, 12],
  [0, 7],
];
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function value(text: string, [min, max]: [number, number]): number {
  const n = NAMES[text.toLowerCase()] ?? Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new CronSyntaxError(`"${text}" is not in ${min}-${max}`);
  return n;
}

function parseField(field: string, range: [number, number]): Set<number> {
  const out = new Set<number>();
  for (const part of field.split(',')) {
    const [base = '', stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step <= 0) throw new CronSyntaxError(`bad step in "${part}"`);
    let [from, to] = range;
    if (base !== '*' && base !== '?') {
      const [a = '', b] = base.split('-');
      from = value(a, range);
      to = b === undefined ? (stepText === undefined ? from : range[1]) : value(b, range);
    }
    for (let n = from; n <= to; n += step) out.add(n);
  }
  return out;
}

function parseEvery(text: string): CronSchedule {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  const period = match ? Number(match[1]) * DURATION_UNITS[match[2]!]! : NaN;
  if (!(period >= 1000)) throw new CronSyntaxError(`"@every ${text}" needs a duration of at least 1s, e.g. 10s`);
  return { unitSeconds: 1, next: (after) => (Math.floor(after / period) + 1) * period };
}

export function parseCronSchedule(schedule: string): CronSchedule {
  const trimmed = schedule.trim().replace(/^(CRON_)?TZ=\S+\s+/, '');
  if (trimmed.startsWith('@every ')) return parseEvery(trimmed.slice('@every '.length));
  const fields = (DESCRIPTORS[trimmed] ?? trimmed).split(/\s+/);
  if (fields.length !== 5) throw new CronSyntaxError(`expected exactly 5 fields, found ${fields.length}: "${schedule}"`);
  const [minutes, hours, days, months, weekdays] = fields.map((f, i) => parseField(f, RANGES[i]!)) as [
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
  ];
  if (weekdays.has(7)) weekdays.add(0);
  const anyDay = fields[2] === '*' || fields[2] === '?';
  const anyWeekday = fields[4] === '*' || fields[4] === '?';
  const dayMatches = (d: Date) =>
    anyDay || anyWeekday
      ? days.has(d.getUTCDate()) && weekdays.has(d.getUTCDay())
      : days.has(d.getUTCDate()) || weekdays.has(d.getUTCDay());
  return {
    unitSeconds: 60,
    next(after) {
      let t = (Math.floor(after / 60_000) + 1) * 60_000;
      for (const end = after + 366 * 86_400_000; t <= end; t += 60_000) {
        const d = new Date(t);
        if (!months.has(d.getUTCMonth() + 1) || !dayMatches(d)) {
          t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1) - 60_000;
          continue;
        }
        if (hours.has(d.getUTCHours()) && minutes.has(d.getUTCMinutes())) return t;
      }
      return undefined;
    },
  };
}
