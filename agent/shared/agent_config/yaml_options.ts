// How agent configs (and kascfg) are read as YAML: as the reference reads them.
import type { DocumentOptions, ParseOptions, SchemaOptions } from 'yaml';

/**
 * YAML as the reference reads it (YAML 1.1, as go-yaml v2 does): yes/no/on/off/y/n are
 * booleans, 0755 is octal, `<<` merges. go-yaml keeps timestamp-like and sexagesimal-like
 * scalars (2024-01-01, 1:30) as strings, so those YAML 1.1 tags are left out.
 */
export const YAML_READ_OPTIONS: ParseOptions & DocumentOptions & SchemaOptions = {
  version: '1.1',
  uniqueKeys: true,
  prettyErrors: false,
  customTags: (tags) => tags.filter((tag) => typeof tag === 'string' || !isTimeTag(tag)),
};

function isTimeTag(tag: { tag: string; format?: string }): boolean {
  return tag.tag === 'tag:yaml.org,2002:timestamp' || tag.format === 'TIME';
}
