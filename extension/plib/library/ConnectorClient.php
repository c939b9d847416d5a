<?php

declare(strict_types=1);

/**
 * The connector's HTTP API (shared design, "HTTP API"), one method per route, over the unix
 * socket with the bearer token of `<data dir>/api-token`. Connector errors become
 * Modules_GdriveBackup_ConnectorError (a pm_Exception) with the localised sentence of
 * their code, or the connector's own sentence when the locale cannot render it.
 *
 * When nothing answers on the socket, the client starts the service and sends the request
 * once more: only when the request could not have reached a service (connection refused or
 * no socket), or for a GET, so nothing that changes anything is ever sent twice.
 *
 * Secrets (GDRIVE_SECRETS_STORE=client, which ConnectorService starts the service with): the
 * connector holds the refresh tokens in memory only, this extension owns them in pm_Settings
 * (SecretsVault). A request answered 503 `secrets_not_loaded` changed nothing: the client loads
 * its copy (PUT /v1/secrets) and sends the request once more. An answer carrying
 * `Gdrive-Secrets-Pending` says the connector has changes (connect, disconnect, a rotated token):
 * the client reads them (GET /v1/secrets/changes), stores them, and acknowledges them
 * (POST /v1/secrets/changes/ack); until then the connector keeps them and says so again.
 */
final class Modules_GdriveBackup_ConnectorClient
{
    private const CONNECT_TIMEOUT = 5;
    private const TIMEOUT = 60;
    /** Appending or reading ~100 MB pieces over a slow uplink, a check() that writes and reads. */
    private const LONG_TIMEOUT = 3600;

    public const SECRETS_PENDING_HEADER = 'gdrive-secrets-pending';

    private ?string $token = null;

    /** Set while the secret changes are being drained, whose own answers carry the header too. */
    private bool $draining = false;

    public function __construct(
        private readonly Modules_GdriveBackup_ConnectorService $service,
        private readonly Modules_GdriveBackup_SecretsVault $vault = new Modules_GdriveBackup_SecretsVault(),
    ) {
    }

    public static function fromContext(): self
    {
        return new self(Modules_GdriveBackup_ConnectorService::fromContext());
    }

    /** @return array{ok: bool, version: string} */
    public function health(): array
    {
        return $this->call('GET', '/v1/health');
    }

    /** @return array{connected: bool, email?: string, folder?: string} */
    public function account(string $object): array
    {
        return $this->onObject('GET', $object, 'account');
    }

    /**
     * @param string|null $name the object's folder name (domain name, login)
     * @param string|null $folder the object's own root folder setting (FolderSetting)
     * @return string the consent URL to send the browser to
     */
    public function oauthStart(string $object, string $redirectUri, ?string $name, ?string $folder = null): string
    {
        // No name or folder ('' or null): the connector's defaults.
        $body = ['redirectUri' => $redirectUri]
            + array_filter(['name' => $name, 'folder' => $folder], static fn (?string $value): bool => $value !== null && $value !== '');
        return (string) $this->onObject('POST', $object, 'oauth/start', $body)['url'];
    }

    /**
     * Hands Google's answer to the connector: a code to exchange, or the error Google gave.
     *
     * @return string the connected account's e-mail
     */
    public function oauthFinish(string $object, string $state, ?string $code, ?string $error): string
    {
        $body = ['state' => $state] + ($code !== null ? ['code' => $code] : ['error' => (string) $error]);
        return (string) $this->onObject('POST', $object, 'oauth/finish', $body)['email'];
    }

    public function disconnect(string $object): void
    {
        $this->onObject('DELETE', $object, 'account');
    }

    /** @return array{errors: list<string>, warnings: list<string>} */
    public function check(string $object): array
    {
        return $this->onObject('POST', $object, 'check', timeout: self::LONG_TIMEOUT);
    }

    /** @return array{total?: int, free?: int} */
    public function quota(string $object): array
    {
        return $this->onObject('GET', $object, 'quota');
    }

    /** @return array{name: string, size: int, isDir: bool, hash?: string}|null null when absent */
    public function stat(string $object, string $path): ?array
    {
        try {
            return $this->onObject('GET', $object, 'stat', query: ['path' => $path]);
        } catch (Modules_GdriveBackup_ConnectorError $error) {
            if ($error->errorCode === 'not_found') {
                return null;
            }
            throw $error;
        }
    }

    /** @return list<array{name: string, size: int, isDir: bool, hash?: string}> */
    public function listDir(string $object, string $path): array
    {
        return $this->onObject('GET', $object, 'list', query: ['path' => $path]);
    }

    public function createDir(string $object, string $path): void
    {
        $this->onObject('POST', $object, 'dirs', ['path' => $path]);
    }

    public function deleteFile(string $object, string $path): void
    {
        $this->onObject('DELETE', $object, 'files', query: ['path' => $path]);
    }

    public function deleteDir(string $object, string $path): void
    {
        $this->onObject('DELETE', $object, 'dirs', query: ['path' => $path]);
    }

    /** @return string the write handle */
    public function openWrite(string $object, string $path): string
    {
        return (string) $this->onObject('POST', $object, 'writes', ['path' => $path])['fd'];
    }

    /** @return int bytes appended */
    public function append(string $fd, string $localFile): int
    {
        return (int) $this->call('POST', '/v1/writes/' . rawurlencode($fd) . '/append', ['localFile' => $localFile], timeout: self::LONG_TIMEOUT, context: ['fd' => $fd, 'path' => $localFile])['bytes'];
    }

    /** @return array{size: int, md5: string, sha256: string} */
    public function closeWrite(string $fd): array
    {
        return $this->call('POST', '/v1/writes/' . rawurlencode($fd) . '/close', timeout: self::LONG_TIMEOUT, context: ['fd' => $fd]);
    }

    /** @return string the read handle */
    public function openRead(string $object, string $path, int $offset): string
    {
        return (string) $this->onObject('POST', $object, 'reads', ['path' => $path, 'offset' => $offset])['fd'];
    }

    /** @return int bytes written into $localFile */
    public function read(string $fd, string $localFile, ?int $size): int
    {
        return (int) $this->call('POST', '/v1/reads/' . rawurlencode($fd) . '/read', ['localFile' => $localFile, 'size' => $size], timeout: self::LONG_TIMEOUT, context: ['fd' => $fd, 'path' => $localFile])['bytes'];
    }

    public function closeRead(string $fd): void
    {
        $this->call('POST', '/v1/reads/' . rawurlencode($fd) . '/close', timeout: self::LONG_TIMEOUT, context: ['fd' => $fd]);
    }

    /** Makes sure the service runs and holds this extension's secrets (the ApiCli hook's first step). */
    public function ensureReady(): void
    {
        $this->health();
        if ($this->service->secretsStore === 'client') {
            $this->loadSecrets();
        }
    }

    /** Hands the connector the extension's copy of the secrets; a connector already loaded keeps its own. */
    public function loadSecrets(): void
    {
        $this->call('PUT', '/v1/secrets', ['entries' => (object) $this->vault->all()]);
    }

    /** Stores the connector's secret changes in pm_Settings and acknowledges them. */
    public function drainSecrets(): void
    {
        if ($this->draining) {
            return;
        }
        $this->draining = true;
        // One drain at a time across PHP processes: a drain that read older changes must not
        // store them after another stored newer ones and acknowledged both.
        $lockPath = $this->service->dataDir . '/secrets.lock';
        $lock = @fopen($lockPath, 'c') ?: @fopen($lockPath, 'r');
        if ($lock !== false) {
            flock($lock, LOCK_EX);
        }
        try {
            $changes = $this->call('GET', '/v1/secrets/changes');
            if (!is_array($changes) || !isset($changes['version'])) {
                return;
            }
            $set = is_array($changes['set'] ?? null) ? $changes['set'] : [];
            $delete = is_array($changes['delete'] ?? null) ? array_values($changes['delete']) : [];
            if ($set !== [] || $delete !== []) {
                $this->vault->apply($set, $delete);
            }
            $this->call('POST', '/v1/secrets/changes/ack', ['version' => (int) $changes['version']]);
        } finally {
            if ($lock !== false) {
                flock($lock, LOCK_UN);
                fclose($lock);
            }
            $this->draining = false;
        }
    }

    /**
     * The localised sentence for a connector error: the locale's `error.<code>` filled from the
     * error's params or the request's context; the connector's sentence when the locale has no
     * such key or a placeholder stays unfilled.
     *
     * @param array<string, scalar> $params
     */
    public static function localise(string $code, string $fallback, array $params): string
    {
        $key = 'error.' . $code;
        $text = pm_Locale::keyExists($key) ? pm_Locale::lmsg($key, $params) : '';
        if ($text === '' || str_contains($text, '%%')) {
            return $fallback !== '' ? $fallback : pm_Locale::lmsg('error.internal', ['detail' => $code]);
        }
        return $text;
    }

    /**
     * A route of one object, `/v1/objects/<object>/<rest>`; the object and the request's `path`
     * fill the placeholders of the localised error sentence.
     *
     * @param array<string, mixed>|null $body
     * @param array<string, scalar> $query
     */
    private function onObject(string $method, string $object, string $rest, ?array $body = null, array $query = [], int $timeout = self::TIMEOUT): mixed
    {
        $path = $query['path'] ?? $body['path'] ?? null;
        return $this->call(
            $method,
            '/v1/objects/' . rawurlencode($object) . '/' . $rest,
            $body,
            $query,
            $timeout,
            ['object' => $object] + ($path === null ? [] : ['path' => $path]),
        );
    }

    /**
     * @param array<string, mixed>|null $body
     * @param array<string, scalar> $query
     * @param array<string, scalar> $context placeholders for the localised error sentence
     */
    private function call(string $method, string $route, ?array $body = null, array $query = [], int $timeout = self::TIMEOUT, array $context = []): mixed
    {
        $url = 'http://localhost' . $route . ($query === [] ? '' : '?' . http_build_query($query, '', '&', PHP_QUERY_RFC3986));
        $response = $this->send($method, $url, $body, $timeout);
        if ($response === null || $response['status'] === 401) {
            // Nothing listens (or an older token): start the service, then the one retry.
            if ($response === null) {
                $this->service->start(fn (): bool => $this->isHealthy());
            }
            $this->token = null;
            $response = $this->send($method, $url, $body, $timeout);
            if ($response === null) {
                throw new Modules_GdriveBackup_ConnectorError(
                    pm_Locale::lmsg('connector.unreachable', ['socket' => $this->service->socketPath()]),
                    'connector_unreachable',
                    true,
                );
            }
        }
        if ($response['status'] === 503 && self::errorCode($response) === 'secrets_not_loaded') {
            // Refused before it changed anything: load the secrets, then the one retry.
            $this->loadSecrets();
            $response = $this->send($method, $url, $body, $timeout) ?? $response;
        }
        if ($response['pending'] && !$this->draining) {
            try {
                $this->drainSecrets();
            } catch (pm_Exception $error) {
                // The connector keeps the changes and asks again with the next answer.
                pm_Log::err('Could not store the connector\'s secret changes: ' . $error->getMessage());
            }
        }
        return $this->decode($response, $method . ' ' . $route, $context);
    }

    /** @param array{status: int, body: string, pending: bool} $response */
    private static function errorCode(array $response): ?string
    {
        $data = json_decode($response['body'], true);
        return is_array($data) && is_string($data['error']['code'] ?? null) ? $data['error']['code'] : null;
    }

    private function isHealthy(): bool
    {
        $this->token = null;
        $response = $this->send('GET', 'http://localhost/v1/health', null, 2);
        return $response !== null && $response['status'] === 200;
    }

    /**
     * @param array<string, mixed>|null $body
     * @return array{status: int, body: string, pending: bool}|null null when no service took the request
     */
    private function send(string $method, string $url, ?array $body, int $timeout): ?array
    {
        $this->token ??= $this->service->apiToken();
        if ($this->token === null || !file_exists($this->service->socketPath())) {
            return null;
        }
        $headers = ['Authorization: Bearer ' . $this->token, 'Accept: application/json'];
        $curl = curl_init($url);
        $options = [
            CURLOPT_UNIX_SOCKET_PATH => $this->service->socketPath(),
            CURLOPT_CUSTOMREQUEST => $method,
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_CONNECTTIMEOUT => self::CONNECT_TIMEOUT,
            CURLOPT_TIMEOUT => $timeout,
        ];
        if ($body !== null) {
            $options[CURLOPT_POSTFIELDS] = json_encode($body, JSON_UNESCAPED_SLASHES | JSON_THROW_ON_ERROR);
            $headers[] = 'Content-Type: application/json';
        }
        $options[CURLOPT_HTTPHEADER] = $headers;
        $pending = false;
        $options[CURLOPT_HEADERFUNCTION] = static function ($curl, string $line) use (&$pending): int {
            if (stripos($line, self::SECRETS_PENDING_HEADER . ':') === 0) {
                $pending = true;
            }
            return strlen($line);
        };
        curl_setopt_array($curl, $options);
        $text = curl_exec($curl);
        $errno = curl_errno($curl);
        $status = (int) curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
        $error = curl_error($curl);
        curl_close($curl);
        // Refused: no service. Reset or no answer: a service going away (idle exit, crash) —
        // safe to send again only for reads, which change nothing.
        if ($errno === CURLE_COULDNT_CONNECT
            || ($method === 'GET' && in_array($errno, [CURLE_GOT_NOTHING, CURLE_RECV_ERROR, CURLE_SEND_ERROR], true))) {
            return null;
        }
        if ($errno !== 0) {
            // The request may have reached the service: never resend it.
            throw new Modules_GdriveBackup_ConnectorError(
                pm_Locale::lmsg('connector.requestFailed', ['detail' => $error]),
                $errno === CURLE_OPERATION_TIMEDOUT ? 'connector_timeout' : 'connector_unreachable',
                true,
            );
        }
        return ['status' => $status, 'body' => (string) $text, 'pending' => $pending];
    }

    /**
     * @param array{status: int, body: string, pending: bool} $response
     * @param array<string, scalar> $context
     */
    private function decode(array $response, string $what, array $context): mixed
    {
        if ($response['status'] === 204) {
            return null;
        }
        $data = $response['body'] === '' ? null : json_decode($response['body'], true);
        if ($response['status'] >= 200 && $response['status'] < 300) {
            return $data;
        }
        $error = is_array($data) && is_array($data['error'] ?? null) ? $data['error'] : [];
        $code = is_string($error['code'] ?? null) ? $error['code'] : 'internal';
        $fallback = is_string($error['message'] ?? null) ? $error['message'] : '';
        $params = is_array($error['params'] ?? null) ? $error['params'] + $context : $context;
        if ($fallback === '') {
            $fallback = pm_Locale::lmsg('connector.badAnswer', ['status' => $response['status'], 'request' => $what]);
        }
        pm_Log::debug("Connector answered $what with {$response['status']} $code");
        throw new Modules_GdriveBackup_ConnectorError(
            self::localise($code, $fallback, $params),
            $code,
            (bool) ($error['retryable'] ?? false),
            $response['status'],
        );
    }
}
