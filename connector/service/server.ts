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
import { clientErrorHandler, frameworkErrorHandler, installErrorHandler, pathOnly } from './error-handler.js';
import { registerRoutes, type ServiceApp } from './routes.js';

/**
 * Fields pino must never print, wherever they turn up (one level deep). `code` is not among
 * them: in these logs it is always an error code (ours or an errno), which an admin needs to
 * read; OAuth codes travel only in request bodies, which are never logged, and URLs are logged
 * without their query string (see `serializers` below).
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  ...[
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

/**
 * How long a client may take to send one whole request (line, headers, body). Node's
 * `server.requestTimeout` counts from the request's first byte until its body is complete,
 * and no longer: the time a handler then takes (an append uploading 100 MiB to Drive) is not
 * covered (https://nodejs.org/api/http.html#serverrequesttimeout; fastify passes its
 * `requestTimeout` option straight to it, see fastify's docs/Reference/Server.md). Every body
 * of this API is a small JSON object (appends name a local file, they do not carry it), so a
 * minute is generous even for a slow PHP client. Node checks for expired requests every
 * `connectionsCheckingInterval` (30 s by default), so a stalled request ends 60 to 90 s after
 * it began, with a 408 in the API's error shape (clientErrorHandler).
 */
export const REQUEST_TIMEOUT_MS = 60_000;

/** Longest path parameter (object, fd) the router takes; longer ones answer 414. */
export const MAX_PARAM_LENGTH = 256;

export interface ServiceOptions {
  connector: Connector;
  config: Config;
  /** The bearer token clients must send (see api-token.ts). */
  apiToken: string;
  /** false: no logging; otherwise pino options (default: config.logLevel to stdout). */
  log?: false | { level?: Config['logLevel']; stream?: NodeJS.WritableStream };
  /** Tests shorten the request timeout and how often node checks it. */
  requestTimeout?: { ms: number; checkEveryMs: number };
}

export function buildService({
  connector,
  config,
  apiToken,
  log,
  requestTimeout,
}: ServiceOptions): ServiceApp {
  const logger =
    log === false
      ? false
      : {
          level: log?.level ?? config.logLevel,
          redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
          // fastify's own req serializer logs the URL with its query string, where a client may
          // have put a token: only the path is logged.
          serializers: {
            req: (request: { method?: string; url?: string }) => ({
              method: request.method,
              url: pathOnly(request.url ?? ''),
            }),
          },
          ...(log?.stream ? { stream: log.stream } : {}),
        };
  const timeoutMs = requestTimeout?.ms ?? REQUEST_TIMEOUT_MS;
  const checkEveryMs = requestTimeout?.checkEveryMs ?? 30_000;
  const app: ServiceApp = Fastify({
    logger,
    requestTimeout: timeoutMs,
    // What node's createServer makes of a requestTimeout given to it (headersTimeout = the
    // smaller of 60 s and requestTimeout): fastify sets requestTimeout on the server after
    // creating it, which leaves headersTimeout at 60 s, and node 20 then never expired a
    // request whose body stopped half-way (tried with 500 ms and a half-sent body).
    http: { headersTimeout: Math.min(60_000, timeoutMs), connectionsCheckingInterval: checkEveryMs },
    clientErrorHandler: clientErrorHandler(() => app.log),
    frameworkErrors: frameworkErrorHandler,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
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
