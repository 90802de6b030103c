import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { policyJsonSchema } from '../../src/policy/json-schema';

describe('schema/policy.schema.json', () => {
  it('is what `npm run schema` generates from the zod schema today', () => {
    const committed = readFileSync(resolve(import.meta.dirname, '../../schema/policy.schema.json'), 'utf8');
    // Compared as text too, so a hand edit or a stale file fails even when it parses the same.
    expect(JSON.parse(committed)).toEqual(policyJsonSchema());
    expect(committed).toBe(`${JSON.stringify(policyJsonSchema(), null, 2)}\n`);
  });
});
