// Structured logging: one JSON object per line on stderr, as kas and agentk write it.
// Anything that looks like a credential is redacted before it is written.
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const LEVEL_ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

import { redactSecrets } from '../shared/redact';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
  setLevel(level: LogLevel): void;
}

export interface LoggerOptions {
  level?: LogLevel;
  write?: (line: string) => void;
}

export function createLogger(base: Record<string, unknown> = {}, options: LoggerOptions = {}): Logger {
  const state = { level: options.level ?? (process.env.LOG_LEVEL as LogLevel | undefined) ?? 'info' };
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const make = (fields: Record<string, unknown>): Logger => {
    const emit = (level: LogLevel, msg: string, extra?: Record<string, unknown>) => {
      if (LEVEL_ORDER[level] < LEVEL_ORDER[state.level]) return;
      const record = { time: new Date().toISOString(), level, msg, ...fields, ...extra };
      write(redactSecrets(JSON.stringify(record, errorReplacer)));
    };
    return {
      debug: (m, f) => emit('debug', m, f),
      info: (m, f) => emit('info', m, f),
      warn: (m, f) => emit('warn', m, f),
      error: (m, f) => emit('error', m, f),
      child: (more) => make({ ...fields, ...more }),
      setLevel: (level) => {
        state.level = level;
      },
    };
  };
  return make(base);
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, code: (value as NodeJS.ErrnoException).code };
  return value;
}
