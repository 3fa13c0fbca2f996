import { CONSOLE_ROUTES } from '../../apps/admin/src/console/console-routes';
import { startAdmin } from '../../apps/admin/src/main';
import { parseFastifyRouteTree } from '../support/fastify-routes';
import { TestStack } from '../support/stack';

/** Served by the app but deliberately not part of the admin API document (ops routes, the docs, the console's files). */
const OPS_ROUTES = ['/healthz', '/readyz', '/metrics', '/docs', '/docs-json', '/docs/swagger-ui.css', '/docs/swagger-ui-bundle.js', ...CONSOLE_ROUTES];

const SAMPLE_TREE = `├── /healthz (GET, HEAD)
├── /docs (GET, HEAD)
│   └── -json (GET, HEAD)
└── /api/external/webhook (POST, GET, HEAD)
    └── /:id (GET, HEAD, PATCH, DELETE)
        └── /rotate-secret (POST)
`;

describe('OpenAPI: /docs and /docs-json describe every route the admin app serves', () => {
  let stack: TestStack;
  let admin: Awaited<ReturnType<typeof startAdmin>>;

  beforeAll(async () => {
    stack = await TestStack.start(__filename, {}, []);
    admin = await startAdmin(stack.config);
  });

  afterAll(async () => {
    await admin?.close();
    await stack?.stop();
  });

  it('reads Fastify\'s route tree (checked on a sample, so the comparison below cannot pass vacuously)', () => {
    expect(parseFastifyRouteTree(SAMPLE_TREE)).toEqual([
      { method: 'GET', path: '/healthz' },
      { method: 'GET', path: '/docs' },
      { method: 'GET', path: '/docs-json' },
      { method: 'POST', path: '/api/external/webhook' },
      { method: 'GET', path: '/api/external/webhook' },
      { method: 'GET', path: '/api/external/webhook/{id}' },
      { method: 'PATCH', path: '/api/external/webhook/{id}' },
      { method: 'DELETE', path: '/api/external/webhook/{id}' },
      { method: 'POST', path: '/api/external/webhook/{id}/rotate-secret' },
    ]);
  });

  it('serves Swagger UI at /docs and the document at /docs-json without credentials', async () => {
    const html = await fetch(`${admin.url}/docs`);
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await html.text()).toContain('/docs-json');
    expect((await fetch(`${admin.url}/docs/swagger-ui-bundle.js`)).status).toBe(200);
    const json = await fetch(`${admin.url}/docs-json`);
    expect(json.status).toBe(200);
    const doc = (await json.json()) as { openapi: string; components: { securitySchemes: object } };
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.components.securitySchemes).toEqual(expect.objectContaining({ bearer: expect.any(Object), 'clinic-key': expect.any(Object) }));
  });

  it('has every route registered in the router in the document, and nothing the router lacks', async () => {
    const served = parseFastifyRouteTree(admin.app.getHttpAdapter().getInstance().printRoutes({ commonPrefix: false }))
      .filter((r) => !OPS_ROUTES.includes(r.path))
      .map((r) => `${r.method} ${r.path}`);
    const doc = (await (await fetch(`${admin.url}/docs-json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    // A path with servers of its own is served by another app (ingress's POST /webhooks/nimbus): openapi-lint.spec.ts.
    const documented = Object.entries(doc.paths)
      .filter(([, item]) => !item.servers)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    expect(served.length).toBeGreaterThanOrEqual(16);
    expect(served.filter((r) => !documented.includes(r))).toEqual([]);
    expect(documented.filter((r) => !served.includes(r))).toEqual([]);
  });

  it('describes a success answer with a schema for every operation (204 excepted)', async () => {
    type Operation = { responses: Record<string, { content?: Record<string, { schema?: unknown }> }> };
    const doc = (await (await fetch(`${admin.url}/docs-json`)).json()) as { paths: Record<string, Record<string, Operation>> };
    const missing = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([key]) => key !== 'servers' && key !== 'parameters')
        .filter(([, op]) => {
          const codes = Object.keys(op.responses ?? {}).filter((c) => c.startsWith('2'));
          return !codes.some((c) => c === '204' || op.responses[c]!.content?.['application/json']?.schema);
        })
        .map(([m]) => `${m.toUpperCase()} ${path}`),
    );
    expect(missing).toEqual([]);
  });
});
