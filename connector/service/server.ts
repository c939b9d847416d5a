/**
 * The connector service as a fastify instance, independent of how it listens (serve-command.ts
 * puts it on a unix socket or a loopback port; tests also use app.inject()).
 *
 * Every request, health included, must carry the bearer token of `<dataDir>/api-token`.
 * The pino logger redacts the Authorization header and every field that could hold a secret.
 */
import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import Fastify from 'fastify';
import type { Config } from '../config/config.js';
import { GdriveBackupError } from '../errors/errors.js';
import type { Connector } from '../transport/types.js';
import { bearerMatches } from './api-token.js';
import { installErrorHandler } from './error-handler.js';
import { registerRoutes, type ServiceApp } from './routes.js';

/** Fields pino must never print, wherever they turn up (one level deep). */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  ...[
    'code',
    'token',
    'refresh_token',
    'access_token',
    'client_secret',
    'clientSecret',
    'apiToken',
    'entries',
    'set',
  ].flatMap((key) => [key, `*.${key}`]),
];

export interface ServiceOptions {
  connector: Connector;
  config: Config;
  /** The bearer token clients must send (see api-token.ts). */
  apiToken: string;
  /** false: no logging; otherwise pino options (default: config.logLevel to stdout). */
  log?: false | { level?: Config['logLevel']; stream?: NodeJS.WritableStream };
}

export function buildService({ connector, config, apiToken, log }: ServiceOptions): ServiceApp {
  const logger =
    log === false
      ? false
      : {
          level: log?.level ?? config.logLevel,
          redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
          ...(log?.stream ? { stream: log.stream } : {}),
        };
  const app: ServiceApp = Fastify({
    logger,
    // Appends and reads of ~100 MiB pieces take as long as the wire needs: no request timeout.
    requestTimeout: 0,
    // Requests arriving while the service stops get the API's error shape (hook below), not fastify's own 503.
    return503OnClosing: false,
    // JSON clients send JSON types: a string where a number belongs is a bug to report, not to
    // guess; an unknown field (a typo, a newer client) is refused, not silently dropped.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
  }).withTypeProvider<JsonSchemaToTsProvider>();

  // POST routes without input (close, check) may come with an empty JSON body from curl/PHP.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new GdriveBackupError('bad_request', { detail: 'the body is not valid JSON' }), undefined);
    }
  });

  installErrorHandler(app);

  // Stopping (SIGTERM, idle timeout): requests in flight finish, new ones are told to come back,
  // and every answer ends its keep-alive connection, which would otherwise hold close() open.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing) reply.header('connection', 'close');
    return payload;
  });

  app.addHook('onRequest', async (request) => {
    if (closing) throw new GdriveBackupError('service_stopping');
    if (!bearerMatches(request.headers.authorization, apiToken)) throw new GdriveBackupError('unauthorized');
  });

  registerRoutes(app, connector, config);
  return app;
}
