// Whether a container_scanning cadence is a schedule agentk can run. The reference only
// requires a non-empty string and hands it to a standard cron parser (five fields, the @
// shorthands, @every <duration>, an optional CRON_TZ= prefix); anything else fails there, at
// run time. We check the same forms so the editor can warn before that.
import { parseDuration } from './go_duration';

const SHORTHANDS = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

interface FieldBounds {
  min: number;
  max: number;
  names?: readonly string[];
}

/** minute, hour, day of month, month, day of week */
const FIELDS: readonly FieldBounds[] = [
  { min: 0, max: 59 },
  { min: 0, max: 23 },
  { min: 1, max: 31 },
  { min: 1, max: 12, names: MONTHS },
  { min: 0, max: 6, names: WEEKDAYS },
];

export function isCronSchedule(text: string): boolean {
  const spec = text.trim().replace(/^(?:CRON_TZ|TZ)=\S+\s+/, '');
  if (spec.startsWith('@every ')) {
    const every = parseDuration(spec.slice('@every '.length).trim());
    return every !== undefined && every > 0;
  }
  if (spec.startsWith('@')) return SHORTHANDS.has(spec);
  const fields = spec.split(/\s+/);
  return fields.length === FIELDS.length && fields.every((field, index) => isCronField(field, FIELDS[index]!));
}

function isCronField(field: string, bounds: FieldBounds): boolean {
  return field.split(',').every((part) => isCronRange(part, bounds));
}

function isCronRange(part: string, bounds: FieldBounds): boolean {
  const [range, step, ...rest] = part.split('/');
  if (rest.length > 0 || range === undefined) return false;
  if (step !== undefined && !/^[1-9][0-9]*$/.test(step)) return false;
  if (range === '*' || range === '?') return true;
  const ends = range.split('-');
  if (ends.length > 2) return false;
  const values = ends.map((end) => cronValue(end, bounds));
  if (values.some((value) => value === undefined)) return false;
  return values.length === 1 || values[0]! <= values[1]!;
}

function cronValue(text: string, bounds: FieldBounds): number | undefined {
  const named = bounds.names?.indexOf(text.toLowerCase()) ?? -1;
  if (named !== -1) return named + bounds.min;
  if (!/^[0-9]+$/.test(text)) return undefined;
  const value = Number(text);
  return value >= bounds.min && value <= bounds.max ? value : undefined;
}
