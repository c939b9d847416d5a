/**
 * The one place where failures become HTTP answers, always in the shape the PHP hook reads:
 * `{"error": {"code", "message", "retryable"}}` with the catalogue's status.
 *
 *  - GdriveBackupError: its own code, sentence and status.
 *  - fastify's schema validation (and other 4xx of fastify itself, e.g. bad JSON): `bad_request`
 *    with a sentence naming the field.
 *  - unknown routes: `unknown_route`.
 *  - anything else: `internal`, logged with its stack; the answer names only the request id,
 *    since an unexpected error's text may carry things the admin's screen must not show.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
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
      url: request.url.split('?')[0] ?? request.url,
    });
    const body: ErrorBody = { error: known.toJSON() };
    return reply.status(known.status).send(body);
  });
}
