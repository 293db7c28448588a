// Label and field selectors, parsed once per request and then matched against many objects.
// Grammar follows the Kubernetes API: requirements separated by commas (outside parentheses).
import { StoreError, type KubeObject } from '../types';

export type Matcher = (object: KubeObject) => boolean;

const MATCH_ALL: Matcher = () => true;

const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

function badSelector(kind: string, selector: string, why: string): StoreError {
  return new StoreError(400, 'BadRequest', `unable to parse requirement: invalid ${kind} selector "${selector}": ${why}`);
}

/** Splits on commas that are not inside a parenthesised value set. */
function splitRequirements(selector: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current.trim());
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current.trim());
  return parts.filter((p) => p.length > 0);
}

function checkKey(key: string, selector: string): string {
  if (!LABEL_KEY.test(key)) throw badSelector('label', selector, `invalid label key "${key}"`);
  return key;
}

function checkValue(value: string, selector: string): string {
  if (!LABEL_VALUE.test(value) || value.length > 63) throw badSelector('label', selector, `invalid label value "${value}"`);
  return value;
}

type LabelTest = (labels: Record<string, string>) => boolean;

function parseSetRequirement(requirement: string, selector: string): LabelTest | undefined {
  const match = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(requirement);
  if (!match) return undefined;
  const key = checkKey(match[1]!, selector);
  const values = new Set(match[3]!.split(',').map((v) => checkValue(v.trim(), selector)));
  if (match[2] === 'in') return (labels) => key in labels && values.has(labels[key]!);
  return (labels) => !(key in labels) || !values.has(labels[key]!);
}

function parseLabelRequirement(requirement: string, selector: string): LabelTest {
  const setTest = parseSetRequirement(requirement, selector);
  if (setTest) return setTest;
  const equality = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(requirement);
  if (equality) {
    const key = checkKey(equality[1]!, selector);
    const value = checkValue(equality[3]!, selector);
    if (equality[2] === '!=') return (labels) => labels[key] !== value;
    return (labels) => labels[key] === value;
  }
  if (requirement.startsWith('!')) {
    const key = checkKey(requirement.slice(1).trim(), selector);
    return (labels) => !(key in labels);
  }
  const key = checkKey(requirement, selector);
  return (labels) => key in labels;
}

export function parseLabelSelector(selector: string | undefined): Matcher {
  if (!selector || selector.trim() === '') return MATCH_ALL;
  const tests = splitRequirements(selector).map((r) => parseLabelRequirement(r, selector));
  return (object) => {
    const labels = object.metadata.labels ?? {};
    return tests.every((test) => test(labels));
  };
}

/** The value of a dotted field path as a string; '' when absent (as Kubernetes compares it). */
export function fieldValue(object: KubeObject, path: string): string {
  let current: unknown = object;
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object') return '';
    current = (current as Record<string, unknown>)[part];
  }
  if (current === undefined || current === null) return '';
  return typeof current === 'object' ? JSON.stringify(current) : String(current);
}

const FIELD_PATH = /^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*$/;

export function parseFieldSelector(selector: string | undefined): Matcher {
  if (!selector || selector.trim() === '') return MATCH_ALL;
  const tests = splitRequirements(selector).map((requirement): Matcher => {
    const match = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/.exec(requirement);
    if (!match || !FIELD_PATH.test(match[1]!))
      throw badSelector('field', selector, `"${requirement}" is not of the form field=value or field!=value`);
    const [, path, operator, value] = match as unknown as [string, string, string, string];
    if (operator === '!=') return (object) => fieldValue(object, path) !== value;
    return (object) => fieldValue(object, path) === value;
  });
  return (object) => tests.every((test) => test(object));
}
