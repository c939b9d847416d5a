/**
 * The one place where failures become HTTP answers, always in the shape the PHP hook reads:
 * `{"error": {"code", "message", "retryable"}}` with the catalogue's status.
 *
 *  - GdriveBackupError: its own code, sentence and status.
 *  - fastify's schema validation (and other 4xx of fastify itself, e.g. bad JSON): `bad_request`
 *    with a sentence naming the field.
 *  - unknown routes: `unknown_route`.
 *  - what node and fastify's router refuse before routing (timeout, oversized headers, over-long
 *    URL parts): `bad_request` with the fitting status (408, 431, 414), see clientErrorHandler.
 *  - anything else: `internal`, logged with its stack; the answer names only the request id,
 *    since an unexpected error's text may carry things the admin's screen must not show.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GdriveBackupError, isGdriveBackupError } from '../errors/errors.js';

export interface ErrorBody {
  error: { code: string; message: string; retryable: boolean; params: Record<string, string> };
}

function validationDetail(error: FastifyError): string {
  const where = error.validationContext ?? 'request';
  const first = error.validation?.[0];
  if (!first) return error.message;
  const field = first.instancePath ? `${where}${first.instancePath.replace(/\//g, '.')}` : where;
  const property =
    (first.params as { missingProperty?: string; additionalProperty?: string } | undefined) ?? {};
  if (property.missingProperty) return `${field} needs the field "${property.missingProperty}"`;
  if (property.additionalProperty) return `${field} has the unknown field "${property.additionalProperty}"`;
  return `${field} ${first.message ?? 'is invalid'}`;
}

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    let known: GdriveBackupError;
    if (isGdriveBackupError(error)) {
      known = error;
      if (known.status >= 500) request.log.warn({ code: known.code, err: error }, 'operation failed');
      else request.log.info({ code: known.code }, 'operation refused');
    } else if (error.validation) {
      known = new GdriveBackupError('bad_request', { detail: validationDetail(error) });
    } else if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      // fastify's own client errors: malformed JSON, wrong content type, body too large.
      known = new GdriveBackupError('bad_request', { detail: error.message.replace(/\.$/, '') });
    } else {
      request.log.error({ err: error }, 'unexpected failure');
      known = new GdriveBackupError('internal', { detail: `request ${request.id}` });
    }
    const body: ErrorBody = { error: known.toJSON() };
    return reply.status(known.status).type('application/json').send(body);
  });

  app.setNotFoundHandler((request, reply) => {
    const known = new GdriveBackupError('unknown_route', {
      method: request.method,
      url: pathOnly(request.url),
    });
    const body: ErrorBody = { error: known.toJSON() };
    return reply.status(known.status).send(body);
  });
}

/** `request.url` without its query string: what the logs and the answers may show. */
export function pathOnly(url: string): string {
  const at = url.indexOf('?');
  return at === -1 ? url : url.slice(0, at);
}

/** What node answers before fastify routes (timeout, oversized headers, garbage), in the API's shape. */
function rawAnswer(status: number, error: GdriveBackupError): string {
  const body = JSON.stringify({ error: error.toJSON() } satisfies ErrorBody);
  return [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}

/**
 * The server's `clientError` listener (fastify's `clientErrorHandler` option), replacing
 * fastify's default one, which answers `{"error":"Bad Request","message":"Client Error"}`.
 * Node emits clientError for a request that was not received within requestTimeout
 * (ERR_HTTP_REQUEST_TIMEOUT), for headers (request line included) over the 16 KiB
 * maxHeaderSize (HPE_HEADER_OVERFLOW) and for anything its parser cannot read
 * (https://nodejs.org/api/http.html#event-clienterror).
 */
export function clientErrorHandler(
  log: () => FastifyBaseLogger,
): (error: Error & { code?: string }, socket: Duplex) => void {
  return (error, socket) => {
    // A reset connection has no one to answer.
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    let status = 400;
    let known: GdriveBackupError;
    if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      status = 408;
      known = new GdriveBackupError(
        'bad_request',
        { detail: 'the request was not received completely in time' },
        { retryable: true },
      );
    } else if (error.code === 'HPE_HEADER_OVERFLOW') {
      status = 431;
      known = new GdriveBackupError('bad_request', {
        detail: 'the request line and headers are larger than 16 KiB',
      });
    } else {
      known = new GdriveBackupError('bad_request', { detail: 'the request is not valid HTTP/1.1' });
    }
    log().info({ code: known.code, status, cause: error.code }, 'client error');
    if (socket.writable) socket.write(rawAnswer(status, known));
    socket.destroy();
  };
}

/**
 * fastify's `frameworkErrors` option: errors of its router before any route runs, notably a
 * path parameter longer than maxParamLength (414) and a URL that does not decode (400).
 */
export function frameworkErrorHandler(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const status = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 414 : (error.statusCode ?? 400);
  const detail = status === 414 ? 'a part of the URL path is too long' : 'the URL cannot be decoded';
  const known = new GdriveBackupError('bad_request', { detail });
  request.log.info({ code: known.code, status, cause: error.code }, 'operation refused');
  void reply
    .status(status)
    .type('application/json')
    .send({ error: known.toJSON() } satisfies ErrorBody);
}
