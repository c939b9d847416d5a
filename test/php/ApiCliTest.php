<?php

declare(strict_types=1);

/**
 * `plesk ext gdrive-backup --cli <command> ...` as Plesk runs it (pm_Hook_ApiCli, cliCommand()),
 * on the real connector and sandbox: the admin's commands run against the extension's data dir
 * and secrets, even when no service runs yet, and what they change reaches pm_Settings.
 */
final class ApiCliTest extends EndToEndCase
{
    /** @return array{code: int, stdout: string, stderr: string} */
    private static function plesk(string ...$argv): array
    {
        return pm_Hook_ApiCli::fakeRun(Modules_GdriveBackup_ApiCli::class, $argv);
    }

    private static function stopConnector(): void
    {
        $service = Modules_GdriveBackup_ConnectorService::fromContext();
        $pid = (int) @file_get_contents($service->pidPath());
        $service->stop();
        for ($i = 0; $i < 200 && $pid > 0 && is_file("/proc/$pid/stat"); $i++) {
            usleep(25_000);
        }
    }

    public function testStatusLsGetAndDisconnectThroughTheCliHook(): void
    {
        $email = self::connect('subscription', 12);
        $hook = self::hook('subscription', 12);
        $local = tempnam(sys_get_temp_dir(), 'gdb-cli-');
        file_put_contents($local, 'restore me');
        $fd = $hook->openFileWrite('dumps/backup_info.xml');
        $hook->appendFile($fd, $local);
        $hook->closeFile($fd);
        unlink($local);

        // A restarted (here: stopped) connector: the hook starts it and loads the secrets first.
        self::stopConnector();
        $status = self::plesk('--cli', 'status', '--object', 'subscription:12');
        self::assertSame(0, $status['code'], $status['stderr']);
        self::assertStringContainsString($email, $status['stdout']);

        $ls = self::plesk('--cli', 'ls', 'dumps', '--object', 'subscription:12');
        self::assertSame(0, $ls['code'], $ls['stderr']);
        self::assertStringContainsString('backup_info.xml', $ls['stdout']);

        $target = sys_get_temp_dir() . '/gdb-cli-restore-' . bin2hex(random_bytes(4));
        $get = self::plesk('--cli', 'get', 'dumps/backup_info.xml', $target, '--object', 'subscription:12');
        try {
            self::assertSame(0, $get['code'], $get['stderr']);
            self::assertSame('restore me', file_get_contents($target));
        } finally {
            @unlink($target);
        }

        self::assertCount(1, (new Modules_GdriveBackup_SecretsVault())->keys());
        $gone = self::plesk('--cli', 'disconnect', '--object', 'subscription:12');
        self::assertSame(0, $gone['code'], $gone['stderr']);
        // The connector's change went back into pm_Settings after the command.
        self::assertSame([], (new Modules_GdriveBackup_SecretsVault())->keys());
        $after = self::plesk('--cli', 'status', '--object', 'subscription:12');
        self::assertStringNotContainsString($email, $after['stdout']);
    }

    public function testRefusesWhatDoesNotBelongOnTheServer(): void
    {
        $unknown = self::plesk('--cli', 'serve');
        self::assertSame(2, $unknown['code']);
        self::assertStringContainsString('Unknown command "serve"', $unknown['stderr']);
        $dataDir = self::plesk('--cli', 'status', '--data-dir', '/tmp/elsewhere');
        self::assertSame(2, $dataDir['code']);
        self::assertStringContainsString('leave --data-dir out', $dataDir['stderr']);
        $none = self::plesk('--cli');
        self::assertSame(2, $none['code']);
        self::assertStringContainsString('Usage: plesk ext gdrive-backup --cli', $none['stderr']);
        $help = self::plesk('--help');
        self::assertSame(0, $help['code']);
        self::assertStringContainsString('status, check, ls', $help['stdout']);
    }
}
