/**
 * The HTTP API of the design ("HTTP API" table), one route per row, in the table's order.
 * Each route declares its JSON schema; fastify validates input against it and the handler's
 * types come from it (json-schema-to-ts), so there is no hand-written validation here.
 * Paths are checked by the core (invalid_path), `localFile` by exchange-dirs.ts.
 */
import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { Config } from '../config/config.js';
import { parseObjectRef } from '../core/object-ref.js';
import { GdriveBackupError } from '../errors/errors.js';
import type { Connector, Transport } from '../transport/types.js';
import { CONNECTOR_VERSION } from '../version.js';
import { confineLocalFile } from './exchange-dirs.js';
import { registerSecretRoutes } from './secrets-routes.js';

export type ServiceApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  JsonSchemaToTsProvider
>;

const objectParams = {
  type: 'object',
  properties: { object: { type: 'string', minLength: 1, maxLength: 64 } },
  required: ['object'],
} as const;

const fdParams = {
  type: 'object',
  properties: { fd: { type: 'string', minLength: 1, maxLength: 128 } },
  required: ['fd'],
} as const;

const pathQuery = {
  type: 'object',
  properties: { path: { type: 'string', maxLength: 8192 } },
  required: ['path'],
  additionalProperties: false,
} as const;

const pathBody = pathQuery;

const entry = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    size: { type: 'integer' },
    isDir: { type: 'boolean' },
    hash: { type: 'string' },
  },
  required: ['name', 'size', 'isDir'],
  additionalProperties: false,
} as const;

const fdAnswer = {
  type: 'object',
  properties: { fd: { type: 'string' } },
  required: ['fd'],
  additionalProperties: false,
} as const;

const bytesAnswer = {
  type: 'object',
  properties: { bytes: { type: 'integer' } },
  required: ['bytes'],
  additionalProperties: false,
} as const;

const localFileBody = {
  type: 'object',
  properties: { localFile: { type: 'string', minLength: 1, maxLength: 4096 } },
  required: ['localFile'],
  additionalProperties: false,
} as const;

const noContent = { type: 'null' } as const;

function transportOf(connector: Connector, object: string): Transport {
  return connector.transport(parseObjectRef(object));
}

export function registerRoutes(app: ServiceApp, connector: Connector, config: Config): void {
  // The secrets protocol of GDRIVE_SECRETS_STORE=client (PUT /v1/secrets, .../changes, .../ack).
  registerSecretRoutes(app, connector.clientSecrets);
  app.get(
    '/v1/health',
    {
      schema: {
        response: {
          200: {
            type: 'object',
            properties: { ok: { type: 'boolean' }, version: { type: 'string' } },
            required: ['ok', 'version'],
          },
        },
      },
    },
    async () => ({ ok: true, version: CONNECTOR_VERSION }),
  );

  app.get(
    '/v1/objects/:object/account',
    {
      schema: {
        params: objectParams,
        response: {
          200: {
            type: 'object',
            properties: {
              connected: { type: 'boolean' },
              email: { type: 'string' },
              folder: { type: 'string' },
              connectedAt: { type: 'string' },
              tokenRefreshedAt: { type: 'string' },
              lastBackup: {
                type: 'object',
                properties: { path: { type: 'string' }, size: { type: 'integer' }, at: { type: 'string' } },
                required: ['path', 'size', 'at'],
              },
              lastError: {
                type: 'object',
                properties: {
                  code: { type: 'string' },
                  message: { type: 'string' },
                  path: { type: 'string' },
                  at: { type: 'string' },
                },
                required: ['code', 'message', 'path', 'at'],
              },
            },
            required: ['connected'],
            additionalProperties: false,
          },
        },
      },
    },
    async (request) => transportOf(connector, request.params.object).account(),
  );

  app.post(
    '/v1/objects/:object/oauth/start',
    {
      schema: {
        params: objectParams,
        body: {
          type: 'object',
          properties: {
            redirectUri: { type: 'string', minLength: 1, maxLength: 2048 },
            name: { type: 'string', minLength: 1, maxLength: 255 },
            folder: { type: 'string', minLength: 1, maxLength: 2048 },
          },
          required: ['redirectUri'],
          additionalProperties: false,
        },
        response: {
          200: { type: 'object', properties: { url: { type: 'string' } }, required: ['url'] },
        },
      },
    },
    async (request) => connector.oauth.start(parseObjectRef(request.params.object), request.body),
  );

  app.post(
    '/v1/objects/:object/oauth/finish',
    {
      schema: {
        params: objectParams,
        body: {
          type: 'object',
          properties: {
            state: { type: 'string', minLength: 1, maxLength: 512 },
            code: { type: 'string', minLength: 1, maxLength: 4096 },
            error: { type: 'string', minLength: 1, maxLength: 512 },
          },
          required: ['state'],
          additionalProperties: false,
          oneOf: [{ required: ['code'] }, { required: ['error'] }],
        },
        response: {
          200: { type: 'object', properties: { email: { type: 'string' } }, required: ['email'] },
        },
      },
    },
    async (request) => connector.oauth.finish(parseObjectRef(request.params.object), request.body),
  );

  app.delete(
    '/v1/objects/:object/account',
    { schema: { params: objectParams, response: { 204: noContent } } },
    async (request, reply) => {
      await connector.oauth.disconnect(parseObjectRef(request.params.object));
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/v1/objects/:object/check',
    {
      schema: {
        params: objectParams,
        response: {
          200: {
            type: 'object',
            properties: {
              errors: { type: 'array', items: { type: 'string' } },
              warnings: { type: 'array', items: { type: 'string' } },
            },
            required: ['errors', 'warnings'],
            additionalProperties: false,
          },
        },
      },
    },
    async (request) => transportOf(connector, request.params.object).check(),
  );

  app.get(
    '/v1/objects/:object/quota',
    {
      schema: {
        params: objectParams,
        response: {
          200: {
            type: 'object',
            properties: { total: { type: 'integer' }, free: { type: 'integer' } },
            additionalProperties: false,
          },
        },
      },
    },
    async (request) => transportOf(connector, request.params.object).getQuota(),
  );

  app.get(
    '/v1/objects/:object/stat',
    { schema: { params: objectParams, querystring: pathQuery, response: { 200: entry } } },
    async (request) => {
      const found = await transportOf(connector, request.params.object).stat(request.query.path);
      // The PHP hook turns this 404 into stat()'s null.
      if (found === null) throw new GdriveBackupError('not_found', { path: request.query.path });
      return found;
    },
  );

  app.get(
    '/v1/objects/:object/list',
    {
      schema: {
        params: objectParams,
        querystring: pathQuery,
        response: { 200: { type: 'array', items: entry } },
      },
    },
    async (request) => transportOf(connector, request.params.object).listDir(request.query.path),
  );

  app.post(
    '/v1/objects/:object/dirs',
    { schema: { params: objectParams, body: pathBody, response: { 201: noContent } } },
    async (request, reply) => {
      await transportOf(connector, request.params.object).createDir(request.body.path);
      return reply.status(201).send(null);
    },
  );

  app.delete(
    '/v1/objects/:object/files',
    { schema: { params: objectParams, querystring: pathQuery, response: { 204: noContent } } },
    async (request, reply) => {
      await transportOf(connector, request.params.object).deleteFile(request.query.path);
      return reply.status(204).send(null);
    },
  );

  app.delete(
    '/v1/objects/:object/dirs',
    { schema: { params: objectParams, querystring: pathQuery, response: { 204: noContent } } },
    async (request, reply) => {
      await transportOf(connector, request.params.object).deleteDir(request.query.path);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/v1/objects/:object/writes',
    { schema: { params: objectParams, body: pathBody, response: { 200: fdAnswer } } },
    async (request) => ({
      fd: await transportOf(connector, request.params.object).openFileWrite(request.body.path),
    }),
  );

  app.post(
    '/v1/writes/:fd/append',
    { schema: { params: fdParams, body: localFileBody, response: { 200: bytesAnswer } } },
    async (request) => {
      const localFile = await confineLocalFile(request.body.localFile, config.exchangeDirs);
      // Checked again on the opened file (links swapped in meanwhile): drive/local-files.ts.
      const allowedDirs = config.exchangeDirs;
      return { bytes: await connector.appendFile(request.params.fd, localFile, { allowedDirs }) };
    },
  );

  app.post(
    '/v1/writes/:fd/close',
    {
      schema: {
        params: fdParams,
        response: {
          200: {
            type: 'object',
            properties: { size: { type: 'integer' }, md5: { type: 'string' }, sha256: { type: 'string' } },
            required: ['size', 'md5', 'sha256'],
            additionalProperties: false,
          },
        },
      },
    },
    async (request) => connector.closeWrite(request.params.fd),
  );

  app.post(
    '/v1/writes/:fd/cancel',
    { schema: { params: fdParams, response: { 204: noContent } } },
    async (request, reply) => {
      await connector.cancelWrite(request.params.fd);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/v1/objects/:object/reads',
    {
      schema: {
        params: objectParams,
        body: {
          type: 'object',
          properties: {
            path: { type: 'string', maxLength: 8192 },
            offset: { type: 'integer', minimum: 0 },
          },
          required: ['path', 'offset'],
          additionalProperties: false,
        },
        response: { 200: fdAnswer },
      },
    },
    async (request) => ({
      fd: await transportOf(connector, request.params.object).openFileRead(
        request.body.path,
        request.body.offset,
      ),
    }),
  );

  app.post(
    '/v1/reads/:fd/read',
    {
      schema: {
        params: fdParams,
        body: {
          type: 'object',
          properties: {
            localFile: { type: 'string', minLength: 1, maxLength: 4096 },
            size: { type: ['integer', 'null'], minimum: 0 },
          },
          required: ['localFile'],
          additionalProperties: false,
        },
        response: { 200: bytesAnswer },
      },
    },
    async (request) => {
      const localFile = await confineLocalFile(request.body.localFile, config.exchangeDirs);
      const size = request.body.size ?? null;
      const allowedDirs = config.exchangeDirs;
      return { bytes: await connector.readFile(request.params.fd, localFile, size, { allowedDirs }) };
    },
  );

  app.post(
    '/v1/reads/:fd/close',
    { schema: { params: fdParams, response: { 204: noContent } } },
    async (request, reply) => {
      await connector.closeRead(request.params.fd);
      return reply.status(204).send(null);
    },
  );
}
