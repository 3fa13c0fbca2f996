import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { addGatewayDescription } from './openapi-gateway';

const UI_ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'application/javascript; charset=utf-8',
};

const UI_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>Switchyard admin API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="ui"></div><script src="/docs/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({ url: '/docs-json', dom_id: '#ui' });</script></body></html>`;

/**
 * The OpenAPI document at /docs-json and Swagger UI at /docs: the admin API's routes from their decorators
 * (every route needs `@ApiOperation({ summary })`: test/admin/openapi-lint.spec.ts fails without one), plus
 * ingress's webhook route and the deliveries subscribers receive (openapi-gateway.ts). The UI's files are served from
 * swagger-ui-dist directly (Nest's own UI route needs @fastify/static 10, which needs Node 22).
 */
export function setUpOpenApi(app: NestFastifyApplication): OpenAPIObject {
  const document = addGatewayDescription(
    SwaggerModule.createDocument(
      app,
      new DocumentBuilder()
        .setTitle('Switchyard API')
        .setDescription(
          'The admin API: clinics, keys, subscribers (Nimbus-compatible /api/external/webhook), deliveries, dead letters and ' +
            "replay. Also, served by ingress on its own host: POST /webhooks/nimbus, where Nimbus OS sends events; and, as a " +
            'callback of the subscriber registration, the signed POST every subscriber receives.',
        )
        .setVersion('1')
        .setLicense('UNLICENSED (proprietary)', 'https://docs.npmjs.com/cli/configuring-npm/package-json#license')
        .addServer('/', 'the admin host serving this document (ADMIN_PORT, 8081 on a local `npm start`)')
        .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN' })
        .addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-Key', description: "A clinic's own key" }, 'clinic-key')
        .addCookieAuth('switchyard_portal', { type: 'apiKey', in: 'cookie', description: 'A portal session (the console); writes also need X-CSRF-Token' }, 'portal-session')
        .build(),
    ),
  );
  const fastify = app.getHttpAdapter().getInstance();
  const uiDir = require('swagger-ui-dist').getAbsoluteFSPath() as string;
  fastify.get('/docs-json', async () => document);
  fastify.get('/docs', async (_req, reply) => reply.type('text/html; charset=utf-8').send(UI_PAGE));
  for (const [file, type] of Object.entries(UI_ASSETS)) {
    const body = readFileSync(join(uiDir, file));
    fastify.get(`/docs/${file}`, async (_req, reply) => reply.type(type).header('cache-control', 'public, max-age=86400').send(body));
  }
  return document;
}
