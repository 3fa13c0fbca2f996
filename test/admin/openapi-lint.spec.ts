/**
 * The OpenAPI document (/docs-json) is one other tools accept: it validates (@apidevtools/swagger-parser),
 * passes Redocly's `recommended` rules without an error (@redocly/openapi-core, offline), and gives every
 * operation a summary — so a route added without `@ApiOperation({ summary })` fails here. It also
 * describes what the admin app does not serve: ingress's POST /webhooks/nimbus (exactly the routes the
 * ingress app serves besides nothing) and the signed POST every subscriber receives.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import { startIngress } from '../../apps/ingress/src/main';
import { parseFastifyRouteTree } from '../support/fastify-routes';
import { TestStack } from '../support/stack';

type Doc = Record<string, any>;
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];

/** Every operation, callbacks' included: [where, operation]. */
function operations(doc: Doc): Array<[string, Doc]> {
  const out: Array<[string, Doc]> = [];
  const walkPaths = (paths: Doc, prefix: string) => {
    for (const [path, item] of Object.entries(paths ?? {})) {
      for (const m of METHODS) {
        const op = item[m];
        if (!op) continue;
        out.push([`${prefix}${m.toUpperCase()} ${path}`, op]);
        for (const [name, callback] of Object.entries(op.callbacks ?? {})) walkPaths(callback as Doc, `${prefix}${m.toUpperCase()} ${path} → callback ${name}: `);
      }
    }
  };
  walkPaths(doc.paths, '');
  return out;
}

interface Problem {
  severity: string;
  rule: string;
  message: string;
  at?: string;
}

/** Redocly's recommended rules, in a child process (the package is ESM-only: scripts/tools/openapi-lint.mjs). */
function redoclyProblems(doc: Doc): Problem[] {
  const out = execFileSync(process.execPath, [join(__dirname, '..', '..', 'scripts', 'tools', 'openapi-lint.mjs')], {
    input: JSON.stringify(doc),
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  return JSON.parse(out) as Problem[];
}

describe('OpenAPI document: valid, lint-clean, and covering ingress and deliveries', () => {
  let stack: TestStack;
  let ingress: Awaited<ReturnType<typeof startIngress>>;
  let doc: Doc;

  beforeAll(async () => {
    stack = await TestStack.start(__filename, {}, ['admin']);
    ingress = await startIngress({ ...stack.config, INGRESS_PORT: 0, INGRESS_OPS_PORT: 0 });
    doc = (await (await fetch(`${stack.adminUrl}/docs-json`)).json()) as Doc;
  });

  afterAll(async () => {
    await ingress?.close();
    await stack?.stop();
  });

  it('validates against the OpenAPI specification (swagger-parser)', async () => {
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeDefined();
    expect(doc.openapi).toMatch(/^3\.0\./);
  });

  it("passes Redocly's recommended rules with no error", async () => {
    const problems = redoclyProblems(doc);
    expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
    const warnings = problems.filter((p) => p.severity !== 'error');
    if (warnings.length) process.stdout.write(`Redocly warnings:\n${warnings.map((w) => `  ${w.rule} ${w.at}: ${w.message}`).join('\n')}\n`);
  });

  it('gives every operation a summary (a route without @ApiOperation({ summary }) fails here)', () => {
    const ops = operations(doc);
    expect(ops.length).toBeGreaterThanOrEqual(18);
    expect(ops.filter(([, op]) => !op.summary?.trim()).map(([where]) => where)).toEqual([]);
  });

  it('fails the lint for an operation without a summary and for a document without servers', async () => {
    const broken = structuredClone(doc);
    delete broken.paths['/admin/clinics'].get.summary;
    delete broken.servers;
    const errors = redoclyProblems(broken).filter((p) => p.severity === 'error');
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ rule: 'operation-summary', at: '#/paths/~1admin~1clinics/get/summary' }),
        expect.objectContaining({ rule: 'no-empty-servers' }),
      ]),
    );
  });

  it('describes POST /webhooks/nimbus on the ingress server, with every answer ingress gives', () => {
    const item = doc.paths['/webhooks/nimbus'];
    expect(item.servers[0].variables.host.default).toBe('localhost:8080');
    const op = item.post;
    expect(op.security).toEqual([{ 'clinic-key': [] }]);
    expect(Object.keys(op.responses).sort()).toEqual(['200', '400', '401', '408', '409', '413', '415', '429', '503']);
    for (const code of ['409', '429', '503']) expect(op.responses[code].headers['Retry-After']).toBeDefined();
    const anyOf = doc.components.schemas.NimbusEvent.anyOf.map((s: Doc) => s.$ref);
    expect(anyOf).toEqual([
      '#/components/schemas/ShipmentCreatedEvent',
      '#/components/schemas/ShipmentCancelledEvent',
      '#/components/schemas/MedicationUpdatedEvent',
      '#/components/schemas/OtherNimbusEvent',
    ]);
    // Generated from the zod schemas ingress validates with.
    expect(doc.components.schemas.MedicationUpdatedData.required).toEqual(['medication_order_id', 'status']);
    expect(doc.components.schemas.ShipmentCreatedData.properties.medication_orders).toMatchObject({ type: 'array', minItems: 1 });
  });

  it('documents exactly the routes the ingress app serves on its public port', () => {
    const served = parseFastifyRouteTree(ingress.app.getHttpAdapter().getInstance().printRoutes({ commonPrefix: false })).map(
      (r) => `${r.method} ${r.path}`,
    );
    const documented = Object.entries(doc.paths as Record<string, Doc>)
      .filter(([, item]) => item.servers)
      .flatMap(([path, item]) => METHODS.filter((m) => item[m]).map((m) => `${m.toUpperCase()} ${path}`));
    expect(served.sort()).toEqual(documented.sort());
  });

  it('describes the delivery a subscriber receives: both formats and the signing headers', () => {
    const callback = doc.paths['/api/external/webhook'].post.callbacks.delivery['{$request.body#/webhook_url}'].post;
    expect(Object.keys(callback.requestBody.content).sort()).toEqual(['application/cloudevents+json', 'application/json']);
    expect(callback.requestBody.content['application/cloudevents+json'].schema.$ref).toBe('#/components/schemas/CloudEvent');
    expect(callback.requestBody.content['application/json'].schema.$ref).toBe('#/components/schemas/NimbusEvent');
    const headers = callback.parameters.filter((p: Doc) => p.in === 'header');
    expect(headers.filter((p: Doc) => p.required).map((p: Doc) => p.name)).toEqual(['webhook-id', 'webhook-timestamp', 'webhook-signature']);
    expect(headers.map((p: Doc) => p.name)).toContain('X-API-Key');
    expect(doc.components.schemas.CloudEvent.required).toEqual(['specversion', 'id', 'source', 'type', 'time', 'datacontenttype', 'clinicid', 'data']);
  });
});
