/**
 * The HTTP side of the secrets store of mode `client` (store/client-secrets-store.ts has the
 * protocol): loading the client's copy, the journal of changes, and the two rules that make the
 * protocol work for every route:
 * - a request that needs a secret before the copy was loaded is answered 503 secrets_not_loaded
 *   before its handler runs, so it has changed nothing and the client may send it again;
 * - while changes wait for the client, every answer carries `Gdrive-Secrets-Pending: 1`.
 * Values travel only in these bodies; the logger redacts them (server.ts REDACTED_PATHS).
 */
import { GdriveBackupError } from '../errors/errors.js';
import type { ClientSecretsStore } from '../store/client-secrets-store.js';
import type { ServiceApp } from './routes.js';

export const SECRETS_PENDING_HEADER = 'gdrive-secrets-pending';

/** Routes that work without the secrets: health and the secrets protocol itself. */
const WITHOUT_SECRETS = new Set([
  '/v1/health',
  '/v1/secrets',
  '/v1/secrets/changes',
  '/v1/secrets/changes/ack',
]);

const secretKey = { type: 'string', minLength: 1, maxLength: 512 } as const;

export function registerSecretRoutes(app: ServiceApp, store: ClientSecretsStore | undefined): void {
  if (store) {
    app.addHook('preHandler', async (request) => {
      const route = request.routeOptions.url;
      if (route !== undefined && !WITHOUT_SECRETS.has(route) && !store.loaded)
        throw new GdriveBackupError('secrets_not_loaded');
    });
    app.addHook('onSend', async (_request, reply, payload) => {
      if (store.pending) reply.header(SECRETS_PENDING_HEADER, '1');
      return payload;
    });
  }
  const active = (): ClientSecretsStore => {
    if (!store)
      throw new GdriveBackupError('bad_request', {
        detail: 'this connector keeps its secrets itself (GDRIVE_SECRETS_STORE=file)',
      });
    return store;
  };

  app.put(
    '/v1/secrets',
    {
      schema: {
        body: {
          type: 'object',
          properties: {
            entries: { type: 'object', propertyNames: secretKey, additionalProperties: { type: 'string' } },
          },
          required: ['entries'],
          additionalProperties: false,
        },
      },
    },
    async (request, reply) => {
      active().load(request.body.entries as Record<string, string>);
      return reply.code(204).send();
    },
  );

  app.get(
    '/v1/secrets/changes',
    {
      schema: {
        response: {
          200: {
            type: 'object',
            properties: {
              version: { type: 'integer' },
              set: { type: 'object', additionalProperties: { type: 'string' } },
              delete: { type: 'array', items: { type: 'string' } },
            },
            required: ['version', 'set', 'delete'],
            additionalProperties: false,
          },
        },
      },
    },
    async () => active().changes(),
  );

  app.post(
    '/v1/secrets/changes/ack',
    {
      schema: {
        body: {
          type: 'object',
          properties: { version: { type: 'integer', minimum: 0 } },
          required: ['version'],
          additionalProperties: false,
        },
      },
    },
    async (request, reply) => {
      active().ack(request.body.version);
      return reply.code(204).send();
    },
  );
}
