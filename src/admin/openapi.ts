import { z } from 'zod';
import { identityRecordSchema } from '../identity/record';
import { listValueSchema, overrideValueSchema } from '../overrides/entries';

const json = (schema: object) => ({ 'application/json': { schema } });
const error = {
  description: 'bad input: `{error, field}` names the field at fault',
  content: json({ $ref: '#/components/schemas/Error' }),
};
const unauthorized = { description: 'missing or wrong bearer token' };
const ok = (description: string) => ({ description, content: json({ type: 'object' }) });
const keyQuery = ['key', 'ip', 'credential', 'subject', 'org'].map((name) => ({
  name,
  in: 'query',
  required: false,
  schema: { type: 'string' },
  description: {
    key: 'the key as the limiter derives it (any rule)',
    ip: 'a client address (rules keyed by ip alone)',
    credential: 'a raw credential, hashed before use and never stored (rules keyed by one credential)',
    subject: 'an identity subject (rules keyed by subject)',
    org: 'an organisation (rules keyed by org)',
  }[name],
}));
const ruleParam = { name: 'rule', in: 'path', required: true, schema: { type: 'string' } };
const targetParams = [
  { name: 'rule', in: 'path', required: true, schema: { type: 'string' }, description: 'a rule name, or * for every rule' },
  { name: 'kind', in: 'path', required: true, schema: { enum: ['key', 'subject', 'org'] } },
  { name: 'value', in: 'path', required: true, schema: { type: 'string' }, description: 'URL-encoded; a trailing * matches by prefix' },
];
const listParams = [
  { name: 'list', in: 'path', required: true, schema: { enum: ['allow', 'block'] } },
  { name: 'kind', in: 'path', required: true, schema: { enum: ['ip', 'country', 'asn', 'credential'] } },
  {
    name: 'value',
    in: 'path',
    required: true,
    schema: { type: 'string' },
    description: 'an address or CIDR range (URL-encode the /), a country code, an ASN, or a SHA-256 digest',
  },
];

/** The admin API's OpenAPI 3.1 document, its bodies described by the same schemas that validate them. */
export function openApiDocument() {
  return {
    openapi: '3.1.0',
    info: { title: 'edge-ratelimit admin API', version: '1' },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'the ADMIN_TOKEN secret' } },
      schemas: {
        Error: { type: 'object', properties: { error: { type: 'string' }, field: { type: 'string' } }, required: ['error'] },
        Override: z.toJSONSchema(overrideValueSchema, { io: 'input', unrepresentable: 'any' }),
        ListEntry: z.toJSONSchema(listValueSchema, { io: 'input' }),
        IdentityRecord: z.toJSONSchema(identityRecordSchema, { io: 'input' }),
      },
    },
    security: [{ bearer: [] }],
    paths: {
      '/policy': { get: { summary: "the policy's rules at a glance", responses: { 200: ok('rules'), 401: unauthorized } } },
      '/metrics': {
        get: {
          summary: "this isolate's decision counters per rule and recent refusals",
          responses: { 200: ok('counters'), 401: unauthorized },
        },
      },
      '/usage': {
        get: {
          summary:
            "a customer's allowed and refused requests and cost units per day, from Analytics Engine (501 where its SQL API is not configured, with the query it would send)",
          parameters: ['subject', 'org', 'from', 'to', 'format'].map((name) => ({
            name,
            in: 'query',
            required: false,
            schema: { type: 'string' },
          })),
          responses: { 200: ok('usage per day, as JSON or CSV'), 400: error, 401: unauthorized, 501: error, 502: error },
        },
      },
      '/decisions/top-refused': {
        get: {
          summary:
            "each rule's most refused keys across every isolate, by key digest, from Analytics Engine (501 where its SQL API is not configured, with the queries it would send)",
          parameters: [
            { name: 'from', description: 'a UTC day (2026-12-01) or time (2026-12-06T21:00Z), included; default 24 hours before to' },
            { name: 'to', description: 'a UTC day (included) or time (excluded); default now' },
            { name: 'rule', description: 'one rule of the policy; every rule when absent' },
            { name: 'limit', description: 'keys per rule, 1 to 100; default 10' },
          ].map((p) => ({ ...p, in: 'query', required: false, schema: { type: 'string' } })),
          responses: {
            200: ok('{ from, to, rule?, limit, keys: [{ rule, key, refusals, lastSeen }] }, most refused first per rule'),
            400: error,
            401: unauthorized,
            501: error,
            502: error,
          },
        },
      },
      '/overrides': {
        get: { summary: 'overrides in KV, and malformed entries that are ignored', responses: { 200: ok('overrides'), 401: unauthorized } },
      },
      '/overrides/{rule}/{kind}/{value}': {
        put: {
          summary: 'write an override',
          parameters: targetParams,
          requestBody: { required: true, content: json({ $ref: '#/components/schemas/Override' }) },
          responses: { 200: ok('written'), 400: error, 401: unauthorized, 413: error, 415: error },
        },
        delete: {
          summary: 'delete an override',
          parameters: targetParams,
          responses: { 200: ok('deleted'), 400: error, 401: unauthorized },
        },
      },
      '/lists': {
        get: { summary: 'allow and block list entries (KV and the policy)', responses: { 200: ok('entries'), 401: unauthorized } },
      },
      '/lists/{list}/{kind}/{value}': {
        put: {
          summary: 'add a list entry',
          parameters: listParams,
          requestBody: { required: false, content: json({ $ref: '#/components/schemas/ListEntry' }) },
          responses: { 200: ok('written'), 400: error, 401: unauthorized },
        },
        delete: {
          summary: 'remove a list entry',
          parameters: listParams,
          responses: { 200: ok('deleted'), 400: error, 401: unauthorized },
        },
      },
      '/identities': {
        put: {
          summary:
            'write an identity record for a credential (sent raw to be hashed, or as its digest); refused (400) when the policy reads no identity records or names no such tier',
          requestBody: {
            required: true,
            content: json({
              allOf: [{ $ref: '#/components/schemas/IdentityRecord' }],
              properties: { credential: { type: 'string' }, credentialHash: { type: 'string', pattern: '^[0-9a-f]{64}$' } },
            }),
          },
          responses: { 200: ok('written'), 400: error, 401: unauthorized },
        },
      },
      '/identities/{hash}': {
        get: {
          summary: 'read an identity record',
          parameters: [{ name: 'hash', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { 200: ok('record'), 400: error, 401: unauthorized, 404: ok('none') },
        },
        delete: {
          summary: 'delete an identity record',
          parameters: [{ name: 'hash', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { 200: ok('deleted'), 400: error, 401: unauthorized },
        },
      },
      '/keys/{rule}': {
        get: {
          summary: "a key's live counters, bans and override",
          parameters: [ruleParam, ...keyQuery],
          responses: { 200: ok('counters'), 400: error, 401: unauthorized },
        },
        delete: {
          summary: "reset a key's counters (every rule keyed the same way shares them)",
          parameters: [ruleParam, ...keyQuery],
          responses: { 200: ok('reset'), 400: error, 401: unauthorized },
        },
      },
      '/keys/{rule}/ban': {
        delete: {
          summary: "lift a rule's ban on a key",
          parameters: [ruleParam, ...keyQuery],
          responses: { 200: ok('lifted'), 400: error, 401: unauthorized },
        },
      },
    },
  };
}
