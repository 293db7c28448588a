// The pieces of a server-side Table every printer uses: column definitions, NAME and AGE, and
// kubectl's short human durations.
import type { KubeObject } from '../types';

export interface TableColumn {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

export function column(name: string, type = 'string', description = '', format = ''): TableColumn {
  return { name, type, format: name === 'Name' ? 'name' : format, description, priority: 0 };
}

export const NAME = column('Name', 'string', 'Name must be unique within a namespace.');
export const AGE = column('Age', 'string', 'CreationTimestamp is a timestamp representing the server time when this object was created.');

export interface Printer {
  columns: TableColumn[];
  cells(object: KubeObject, now: number): unknown[];
}

export const DEFAULT_PRINTER: Printer = {
  columns: [NAME, AGE],
  cells: (o, now) => [o.metadata.name, age(o, now)],
};

/** The AGE column in kubectl's short human form (e.g. 45s, 3m12s, 5h, 2d). */
export function humanDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 120) return `${s}s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 10) return s % 60 === 0 ? `${minutes}m` : `${minutes}m${s % 60}s`;
  const hours = Math.floor(minutes / 60);
  if (minutes < 180) return `${minutes}m`;
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  const days = Math.floor(hours / 24);
  if (hours < 48) return `${hours}h`;
  if (days < 8) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  if (days < 365 * 2) return `${days}d`;
  return `${Math.floor(days / 365)}y`;
}

export function age(object: KubeObject, now: number): string {
  const created = Date.parse(object.metadata.creationTimestamp ?? '');
  return Number.isNaN(created) ? '<unknown>' : humanDuration((now - created) / 1000);
}
