<?php

declare(strict_types=1);

/**
 * The connector's CLI for an admin on the server, against the extension's own data dir and
 * secrets (`plesk ext gdrive-backup --cli status --object subscription:12`, hooks/ApiCli.php):
 * makes sure the service runs and holds the secrets (PUT /v1/secrets), runs the bundle's CLI
 * with the data dir (the CLI then goes through the running service), and stores the secret
 * changes the command made (disconnect) in pm_Settings afterwards.
 */
final class Modules_GdriveBackup_CliRunner
{
    /** The connector's commands that make sense here; connect needs the panel's redirect flow. */
    public const COMMANDS = ['status', 'check', 'ls', 'stat', 'get', 'put', 'quota', 'mkdir', 'rm', 'rmdir', 'disconnect'];

    public function __construct(
        private readonly Modules_GdriveBackup_ConnectorService $service,
        private readonly Modules_GdriveBackup_ConnectorClient $client,
    ) {
    }

    public static function fromContext(): self
    {
        $service = Modules_GdriveBackup_ConnectorService::fromContext();
        return new self($service, new Modules_GdriveBackup_ConnectorClient($service));
    }

    public static function usage(): string
    {
        return pm_Locale::lmsg('cli.usage', ['commands' => implode(', ', self::COMMANDS)]) . "\n";
    }

    /**
     * @param list<string> $args the connector command and its arguments, e.g. ['status', '--object', 'server']
     * @return array{code: int, stdout: string, stderr: string}
     */
    public function run(array $args): array
    {
        $command = $args[0] ?? '';
        if ($command === '' || in_array($command, ['help', '--help', '-h'], true)) {
            return ['code' => $command === '' ? 2 : 0, 'stdout' => $command === '' ? '' : self::usage(), 'stderr' => $command === '' ? self::usage() : ''];
        }
        if (!in_array($command, self::COMMANDS, true)) {
            return ['code' => 2, 'stdout' => '', 'stderr' => pm_Locale::lmsg('cli.unknownCommand', ['command' => $command]) . "\n" . self::usage()];
        }
        foreach ($args as $arg) {
            if ($arg === '--data-dir' || str_starts_with($arg, '--data-dir=')) {
                return ['code' => 2, 'stdout' => '', 'stderr' => pm_Locale::lmsg('cli.noDataDir') . "\n"];
            }
        }
        try {
            $this->client->ensureReady();
            $node = $this->service->nodeBinary();
            if ($node === null) {
                throw new pm_Exception(pm_Locale::lmsg('connector.nodeMissing'));
            }
            return $this->exec([$node, $this->service->bundle, ...$args, '--data-dir', $this->service->dataDir]);
        } catch (pm_Exception $error) {
            return ['code' => 1, 'stdout' => '', 'stderr' => $error->getMessage() . "\n"];
        } finally {
            if ($this->service->secretsStore === 'client') {
                try {
                    $this->client->drainSecrets();
                } catch (pm_Exception $error) {
                    pm_Log::err('Could not store the connector\'s secret changes: ' . $error->getMessage());
                }
            }
        }
    }

    /**
     * @param list<string> $command
     * @return array{code: int, stdout: string, stderr: string}
     */
    private function exec(array $command): array
    {
        $out = tmpfile();
        $err = tmpfile();
        // Without a running service the CLI would work in-process: with `client` it then says the
        // secrets are missing instead of making a secrets file of its own.
        $env = ['GDRIVE_SECRETS_STORE' => $this->service->secretsStore] + $this->service->environment() + getenv();
        $process = proc_open($command, [0 => ['file', '/dev/null', 'r'], 1 => $out, 2 => $err], $pipes, getcwd() ?: '/', $env);
        if (!is_resource($process)) {
            throw new pm_Exception(pm_Locale::lmsg('connector.exited', ['log' => $this->service->logPath()]));
        }
        $code = proc_close($process);
        rewind($out);
        rewind($err);
        return ['code' => $code, 'stdout' => (string) stream_get_contents($out), 'stderr' => (string) stream_get_contents($err)];
    }
}
