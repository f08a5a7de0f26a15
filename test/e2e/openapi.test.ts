/**
 * /openapi.json against the Open Inference Protocol's own OpenAPI document (test/fixtures/
 * open-inference-protocol/open_inference_rest.yaml, KServe's copy): every OIP path and method is
 * there, every OIP schema is there under its name with the same required fields and compatible
 * property types, and the paths point at the same schemas. Real answers of a running server are
 * then validated against the document (ajv, JSON Schema 2020-12 as OpenAPI 3.1 uses), and /docs
 * is served from the package without a CDN.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { startTestServer, type TestServer } from '../helpers/server.js';

const root = join(import.meta.dirname, '..', '..');
const oip = parse(readFileSync(join(root, 'test', 'fixtures', 'open-inference-protocol', 'open_inference_rest.yaml'), 'utf8'));
const METHODS = ['get', 'post', 'put', 'delete', 'patch'];

type Json = Record<string, any>;

/** OIP writes `${MODEL_NAME}` and `/v2/`; fastify's routes read `{model}` and `/v2`. */
const ourPath = (path: string) => path.replace('${MODEL_NAME}', '{model}').replace('${MODEL_VERSION}', '{version}').replace(/(.)\/$/, '$1');
const refName = (schema: Json | undefined) => (schema?.$ref as string | undefined)?.split('/').pop();

/** Why `ours` cannot stand where `theirs` (an OIP schema) is expected, or undefined when it can. */
function incompatibility(theirs: Json, ours: Json | undefined, where: string): string | undefined {
  if (!ours) return `${where}: missing`;
  if (theirs.$ref) return refName(theirs) === refName(ours) ? undefined : `${where}: refers to ${refName(ours)}, OIP to ${refName(theirs)}`;
  if (theirs.type && theirs.type !== ours.type) return `${where}: type ${ours.type}, OIP ${theirs.type}`;
  for (const field of theirs.required ?? []) {
    if (!(ours.required ?? []).includes(field)) return `${where}: "${field}" is required by OIP but not here`;
  }
  for (const [name, property] of Object.entries<Json>(theirs.properties ?? {})) {
    const why = incompatibility(property, ours.properties?.[name], `${where}.${name}`);
    if (why) return why;
  }
  if (theirs.items) return incompatibility(theirs.items, ours.items, `${where}[]`);
  if (theirs.additionalProperties && typeof theirs.additionalProperties === 'object') {
    return incompatibility(theirs.additionalProperties, ours.additionalProperties, `${where}{}`);
  }
  return undefined;
}

describe('OpenAPI document and /docs', () => {
  let server: TestServer;
  let doc: Json;

  before(async () => {
    server = await startTestServer(join(root, 'examples', 'models'), { grpcPort: -1 });
    const answer = await server.get('/openapi.json');
    assert.equal(answer.status, 200);
    doc = answer.body;
  });

  after(async () => {
    await server.close();
  });

  it('is OpenAPI 3.1', () => {
    assert.equal(doc.openapi, '3.1.0');
    assert.equal(doc.info.title, 'Vireo REST API');
  });

  it('has every OIP path and method, pointing at the same schemas', () => {
    const problems: string[] = [];
    for (const [path, item] of Object.entries<Json>(oip.paths)) {
      for (const method of METHODS.filter((m) => item[m])) {
        const ours = doc.paths[ourPath(path)]?.[method];
        if (!ours) {
          problems.push(`${method.toUpperCase()} ${path} is missing`);
          continue;
        }
        for (const [code, response] of Object.entries<Json>(item[method].responses ?? {})) {
          const theirs = response.content?.['application/json']?.schema;
          if (!theirs) continue;
          const why = incompatibility(theirs, ours.responses?.[code]?.content?.['application/json']?.schema, `${method} ${path} ${code}`);
          if (why) problems.push(why);
        }
        const body = item[method].requestBody?.content?.['application/json']?.schema;
        if (body) {
          const why = incompatibility(body, ours.requestBody?.content?.['application/json']?.schema, `${method} ${path} body`);
          if (why) problems.push(why);
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  it('has every OIP schema under its own name, compatible with it', () => {
    const problems: string[] = [];
    for (const [name, schema] of Object.entries<Json>(oip.components.schemas)) {
      const why = incompatibility(schema, doc.components.schemas[name], name);
      if (why) problems.push(why);
    }
    assert.deepEqual(problems, []);
    // The check above can fail: a schema that lacks a required field is caught.
    assert.match(incompatibility(oip.components.schemas.inference_response, { type: 'object', properties: {}, required: [] }, 'x') ?? '', /model_name/);
  });

  it('documents every route of the server (none falls back to "Undocumented")', () => {
    const undocumented = Object.entries<Json>(doc.paths).flatMap(([path, item]) =>
      METHODS.filter((m) => item[m]?.tags?.includes('Undocumented')).map((m) => `${m} ${path}`));
    assert.deepEqual(undocumented, []);
    for (const path of ['/v2/models/{model}/stats', '/v2/models/{model}/config', '/v2/repository/index', '/v2/logging', '/v1/models/{model}:predict']) {
      assert.ok(doc.paths[path], `${path} is documented`);
    }
    assert.ok(!Object.keys(doc.paths).some((p) => p.startsWith('/docs') || p.startsWith('/console')), 'pages are not API');
    // Uploads, binary tensors and dataframes are documented beside JSON; repository bodies may be absent.
    const infer = doc.paths['/v2/models/{model}/versions/{version}/infer'].post.requestBody;
    assert.deepEqual(Object.keys(infer.content).sort(), ['application/json', 'application/octet-stream', 'application/vnd.apache.arrow.stream', 'image/*', 'multipart/form-data', 'text/csv']);
    assert.equal(infer.required, true);
    assert.equal(doc.paths['/v2/repository/models/{model}/load'].post.requestBody.required, false);
    assert.ok(doc.paths['/v1/models/{model}:predict'].post.summary.startsWith('Predict'));
  });

  it('describes what the server really answers', async () => {
    const ajv = new Ajv2020({ strict: false });
    ajv.addSchema({ ...doc, $id: 'vireo-openapi' });
    const check = (schema: string, value: unknown) => {
      const validate = ajv.getSchema(`vireo-openapi#/components/schemas/${schema}`)!;
      assert.ok(validate(value), `${schema}: ${JSON.stringify(validate.errors)} for ${JSON.stringify(value).slice(0, 300)}`);
    };
    check('metadata_server_response', (await server.get('/v2')).body);
    check('metadata_model_response', (await server.get('/v2/models/simple')).body);
    check('model_ready_response', (await server.get('/v2/models/simple/ready')).body);
    check('model_config', (await server.get('/v2/models/simple/config')).body);
    const request = { inputs: [0, 1].map((i) => ({ name: `INPUT${i}`, datatype: 'INT32', shape: [1, 16], data: Array.from({ length: 16 }, (_, k) => k + i) })) };
    check('inference_request', request);
    const answer = await server.post('/v2/models/simple/infer', request);
    assert.equal(answer.status, 200);
    check('inference_response', answer.body);
    check('model_statistics_response', (await server.get('/v2/models/simple/stats')).body);
    const missing = await server.get('/v2/models/nope');
    assert.equal(missing.status, 404);
    check('metadata_model_error_response', missing.body);
    check('log_settings', (await server.get('/v2/logging')).body);
    check('trace_settings', (await server.get('/v2/trace/setting')).body);
    check('v1_model_status', (await server.get('/v1/models/simple')).body);
    // And a wrong answer is refused by the schema, so the checks above can fail.
    const validate = ajv.getSchema('vireo-openapi#/components/schemas/inference_response')!;
    assert.equal(validate({ outputs: [] }), false);
  });

  it('serves /docs from the package, with no script or style from another origin', async () => {
    const page = await fetch(`${server.url}/docs`);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /swagger-ui/i);
    assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//);
    const assets = [...html.matchAll(/(?:src|href)="([^"#]+)"/g)].map((m) => new URL(m[1]!, page.url));
    assert.ok(assets.length >= 3, `scripts and styles: ${assets.join(', ')}`);
    for (const asset of assets) {
      assert.equal(asset.origin, server.url);
      assert.equal((await fetch(asset)).status, 200, asset.href);
    }
    const initializer = await (await fetch(`${server.url}/docs/static/swagger-initializer.js`)).text();
    assert.match(initializer, /validatorUrl: null/);
  });
});
