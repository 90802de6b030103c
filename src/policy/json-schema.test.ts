import { describe, expect, it } from 'vitest';
import { policyJsonSchema } from './json-schema';
import { parsePolicy } from './parse';

type Node = {
  type?: string;
  properties?: Record<string, Node>;
  items?: Node;
  required?: string[];
  additionalProperties?: boolean;
  enum?: string[];
  description?: string;
  default?: unknown;
};

describe('the JSON Schema of a policy', () => {
  const schema = policyJsonSchema() as Node & { $schema: string; title: string };
  const rule = schema.properties!.rules!.items!;
  const limit = rule.properties!.limits!.items!;

  it('is draft 2020-12, requires only what a written policy must give, and refuses unknown fields like the parser', () => {
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.required).toEqual(['name', 'rules']);
    expect(schema.additionalProperties).toBe(false);
    expect(rule.required).toEqual(['name', 'key']);
    expect(rule.additionalProperties).toBe(false);
    // A limit needs a window or a calendar period: the parser checks that one of them is there.
    expect(limit.required).toEqual(['limit']);
    expect(Object.keys(limit.properties!)).toEqual(expect.arrayContaining(['window', 'period']));
  });

  it('offers the choices and defaults of the zod schema for completion', () => {
    expect(limit.properties!.algorithm).toMatchObject({
      enum: ['fixed-window', 'sliding-window', 'gcra', 'concurrency'],
      default: 'fixed-window',
    });
    expect(rule.properties!.countRefused).toMatchObject({ type: 'boolean', default: false });
    expect(schema.properties!.response!.properties!.body).toMatchObject({
      enum: ['detail', 'jsonapi', 'problem', 'text'],
      default: 'problem',
    });
    expect(limit.description).toMatch(/^One limit/);
  });

  it('lets a JSON policy name its schema with "$schema", which the parser accepts and keeps', () => {
    expect(schema.properties!.$schema).toEqual({ type: 'string' });
    const policy = parsePolicy({
      $schema: './node_modules/edge-ratelimit/schema/policy.schema.json',
      name: 'p',
      rules: [{ name: 'r', key: 'ip', limits: [{ limit: 1, window: '1s' }] }],
    });
    expect(policy.$schema).toBe('./node_modules/edge-ratelimit/schema/policy.schema.json');
    expect(() => parsePolicy({ $schema: 42, name: 'p', rules: [{ name: 'r', key: 'ip', limits: [{ limit: 1, window: '1s' }] }] })).toThrow(
      '$schema: Invalid input: expected string, received number',
    );
  });
});
