<?php

declare(strict_types=1);

/**
 * Where the connector service lives and how it is started and stopped.
 *
 * The service is started on demand by whichever PHP process needs it first (the panel as
 * psaadm, a backup as root): detached with setsid so it outlives the request, output appended
 * to `<data dir>/connector.log`, exiting by itself after 15 idle minutes. The service switches
 * to the data dir's owner when started as root, so its socket and files stay the panel's.
 * The OAuth client id and secret reach it as GDRIVE_CLIENT_ID / GDRIVE_CLIENT_SECRET in its
 * environment (they live in pm_Settings, which the service cannot read by itself); saving new
 * ones on the extension page stops the service so the next call starts it with them. So do
 * Plesk's dump and temp directories (GDRIVE_EXCHANGE_DIRS, PleskDirs). Its secrets store is
 * `client`: the refresh tokens stay in pm_Settings (SecretsVault) and reach the service over
 * the socket (ConnectorClient), never a file of the connector.
 */
final class Modules_GdriveBackup_ConnectorService
{
    private const IDLE_TIMEOUT = 900;
    private const START_TIMEOUT = 15.0;
    private const MIN_NODE_MAJOR = 20;
    /**
     * V8 options of the service's node. A young generation of 1 MiB semi-spaces (the default
     * lets it grow to 16 MiB under the upload's streaming churn) keeps the service's peak RSS
     * over a 4 GiB backup under 100 MiB at no measurable CPU cost (docs: the bench's memory
     * figures; scripts/profile-memory.ts). The same list is in connector/service/node-flags.ts.
     */
    private const NODE_FLAGS = ['--max-semi-space-size=1'];

    /**
     * @param array<string, string> $env added to the service's environment
     */
    public function __construct(
        public readonly string $dataDir,
        public readonly string $bundle,
        private readonly string $nodeSetting = '',
        private readonly array $env = [],
        public readonly string $secretsStore = 'client',
        private readonly string $pleskNodeRoot = '/opt/plesk/node',
        private readonly float $startTimeout = self::START_TIMEOUT,
    ) {
    }

    /** The paths of the installed extension, each overridable through pm_Settings. */
    public static function fromContext(): self
    {
        $env = array_filter([
            'GDRIVE_CLIENT_ID' => Modules_GdriveBackup_Settings::clientId(),
            'GDRIVE_CLIENT_SECRET' => Modules_GdriveBackup_Settings::clientSecret(),
        ], static fn (string $value): bool => $value !== '');
        $dataDir = rtrim((string) pm_Settings::get(Modules_GdriveBackup_Settings::CONNECTOR_DATA_DIR, pm_Context::getVarDir() . 'connector'), '/');
        // Plesk's dump and temp dirs, and the spool dir of LocalFileAccess.
        $env['GDRIVE_EXCHANGE_DIRS'] = implode(':', [
            ...(new Modules_GdriveBackup_PleskDirs((string) pm_Settings::get(Modules_GdriveBackup_Settings::PSA_CONF, '/etc/psa/psa.conf')))->exchangeDirs(),
            $dataDir . '/spool',
        ]);
        return new self(
            $dataDir,
            (string) pm_Settings::get(Modules_GdriveBackup_Settings::CONNECTOR_BUNDLE, pm_Context::getPlibDir() . 'connector/gdrive-backup.mjs'),
            (string) pm_Settings::get(Modules_GdriveBackup_Settings::NODE_BINARY, ''),
            $env,
            (string) pm_Settings::get(Modules_GdriveBackup_Settings::CONNECTOR_SECRETS_STORE, 'client'),
        );
    }

    /** @return array<string, string> what the service and the CLI get in their environment */
    public function environment(): array
    {
        return $this->env;
    }

    public function socketPath(): string
    {
        return $this->dataDir . '/connector.sock';
    }

    public function logPath(): string
    {
        return $this->dataDir . '/connector.log';
    }

    public function pidPath(): string
    {
        return $this->dataDir . '/connector.pid';
    }

    /** The bearer token the service made on its first start, or null before that. */
    public function apiToken(): ?string
    {
        $token = @file_get_contents($this->dataDir . '/api-token');
        return $token === false || trim($token) === '' ? null : trim($token);
    }

    /**
     * The node binary: the `node-binary` setting, else the newest Plesk Node.js >= 20, else
     * `node` on PATH; null when none is found.
     */
    public function nodeBinary(): ?string
    {
        if ($this->nodeSetting !== '') {
            return is_executable($this->nodeSetting) ? $this->nodeSetting : null;
        }
        $best = null;
        $bestVersion = '0';
        foreach (glob($this->pleskNodeRoot . '/*/bin/node') ?: [] as $candidate) {
            $version = basename(dirname($candidate, 2));
            if (preg_match('/^\d+(\.\d+)*$/', $version) && (int) $version >= self::MIN_NODE_MAJOR
                && version_compare($version, $bestVersion, '>') && is_executable($candidate)) {
                [$best, $bestVersion] = [$candidate, $version];
            }
        }
        if ($best !== null) {
            return $best;
        }
        foreach (explode(PATH_SEPARATOR, (string) getenv('PATH')) as $dir) {
            if ($dir !== '' && is_file($dir . '/node') && is_executable($dir . '/node')) {
                return $dir . '/node';
            }
        }
        return null;
    }

    /**
     * Starts the service unless it answers already, and waits until $isHealthy says it does.
     * A lock file keeps two PHP processes from starting two services on one data dir.
     *
     * @param Closure(): bool $isHealthy
     */
    public function start(Closure $isHealthy): void
    {
        $this->makeDataDir();
        $lockPath = $this->dataDir . '/connector.start.lock';
        // flock needs no write access: a lock file made by the other user still serves.
        $lock = @fopen($lockPath, 'c') ?: @fopen($lockPath, 'r');
        $this->adopt($lockPath);
        if ($lock === false) {
            throw new pm_Exception(pm_Locale::lmsg('connector.dataDirMissing', ['dir' => $this->dataDir]));
        }
        try {
            flock($lock, LOCK_EX);
            if ($isHealthy()) {
                return;
            }
            $pid = $this->spawn();
            $deadline = microtime(true) + $this->startTimeout;
            while (microtime(true) < $deadline) {
                if ($isHealthy()) {
                    return;
                }
                if (!$this->isAlive($pid)) {
                    throw new pm_Exception(pm_Locale::lmsg('connector.exited', ['log' => $this->logPath()]));
                }
                usleep(100_000);
            }
            throw new pm_Exception(pm_Locale::lmsg('connector.startTimeout', [
                'seconds' => $this->startTimeout,
                'log' => $this->logPath(),
            ]));
        } finally {
            flock($lock, LOCK_UN);
            fclose($lock);
        }
    }

    /**
     * Makes the data dir (0700) when it is missing. Root (post-install, a backup) gives it to the
     * owner of the dir it is in (the extension's var dir: the panel's user), like the files it
     * makes inside it.
     */
    public function makeDataDir(): void
    {
        if (!is_dir($this->dataDir) && !@mkdir($this->dataDir, 0700, true) && !is_dir($this->dataDir)) {
            throw new pm_Exception(pm_Locale::lmsg('connector.dataDirMissing', ['dir' => $this->dataDir]));
        }
        $this->adopt($this->dataDir, dirname($this->dataDir));
    }

    /** Asks the service this extension started to stop (SIGTERM); says whether it was running. */
    public function stop(): bool
    {
        $pid = (int) @file_get_contents($this->pidPath());
        if ($pid <= 0 || !$this->isOurService($pid)) {
            return false;
        }
        if (function_exists('posix_kill')) {
            posix_kill($pid, 15);
        } else {
            exec('kill -TERM ' . $pid);
        }
        @unlink($this->pidPath());
        return true;
    }

    /** @return int the service's pid */
    private function spawn(): int
    {
        if (!is_file($this->bundle)) {
            throw new pm_Exception(pm_Locale::lmsg('connector.bundleMissing', ['path' => $this->bundle]));
        }
        $node = $this->nodeBinary();
        if ($node === null) {
            throw new pm_Exception(pm_Locale::lmsg('connector.nodeMissing'));
        }
        $args = [
            $node, ...self::NODE_FLAGS, $this->bundle, 'serve',
            '--data-dir', $this->dataDir,
            '--socket', $this->socketPath(),
            '--idle-timeout', (string) self::IDLE_TIMEOUT,
            '--secrets-store', $this->secretsStore,
            // The service writes and rotates the log itself; the shell's redirect below only
            // catches what it prints before its logger exists (a bad setting).
            '--log-file', $this->logPath(),
        ];
        $command = implode(' ', array_map('escapeshellarg', $args));
        touch($this->logPath());
        $this->adopt($this->logPath());
        $log = escapeshellarg($this->logPath());
        // Without job control the background job keeps the shell's process group, so setsid
        // does not fork and $! is the service's own pid.
        $script = "if command -v setsid >/dev/null 2>&1; then setsid $command </dev/null >>$log 2>&1 &"
            . " else nohup $command </dev/null >>$log 2>&1 & fi; echo \$!";
        // The web server's descriptors (its listening socket, the request's connection) must not
        // live on in the service: bash closes every descriptor above 2 first (sh cannot).
        $shell = is_executable('/bin/bash') ? '/bin/bash' : '/bin/sh';
        if ($shell === '/bin/bash') {
            $script = 'for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done 2>/dev/null; ' . $script;
        }
        $process = proc_open([$shell, '-c', $script], [1 => ['pipe', 'w']], $pipes, $this->dataDir, $this->env + getenv());
        if (!is_resource($process)) {
            throw new pm_Exception(pm_Locale::lmsg('connector.exited', ['log' => $this->logPath()]));
        }
        $pid = (int) trim((string) stream_get_contents($pipes[1]));
        fclose($pipes[1]);
        proc_close($process);
        file_put_contents($this->pidPath(), $pid . "\n");
        $this->adopt($this->pidPath());
        pm_Log::info("Started the Google Drive connector service (pid $pid, data dir {$this->dataDir})");
        return $pid;
    }

    /**
     * Root (a backup) gives the files it makes in the data dir to the dir's owner (the panel's
     * user), so that whoever starts the service next can append to the log and take the lock;
     * the data dir itself goes to the owner of the dir it is in ($ownerOf).
     */
    private function adopt(string $path, ?string $ownerOf = null): void
    {
        if (!function_exists('posix_geteuid') || posix_geteuid() !== 0 || !file_exists($path)) {
            return;
        }
        $ownerOf ??= $this->dataDir;
        $owner = fileowner($ownerOf);
        if ($owner !== false && $owner !== 0 && fileowner($path) !== $owner) {
            @chown($path, $owner);
            @chgrp($path, (int) filegroup($ownerOf));
        }
    }

    private function isAlive(int $pid): bool
    {
        if ($pid <= 0) {
            return false;
        }
        $stat = @file_get_contents("/proc/$pid/stat");
        // A zombie (state Z) has exited already.
        return $stat !== false && !preg_match('/^\d+ \(.*\) Z/s', $stat);
    }

    /** The pid file may be stale: signal only a `serve` of this data dir. */
    private function isOurService(int $pid): bool
    {
        $cmdline = @file_get_contents("/proc/$pid/cmdline");
        if ($cmdline === false) {
            return false;
        }
        $args = explode("\0", $cmdline);
        return in_array('serve', $args, true) && in_array($this->dataDir, $args, true);
    }
}
