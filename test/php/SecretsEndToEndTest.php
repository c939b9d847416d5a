<?php

declare(strict_types=1);

/**
 * The refresh tokens' path through the real PHP and the real connector (secrets store `client`):
 * connecting from the panel leaves the token encrypted in pm_Settings and nowhere in the
 * connector's data dir; a backup in another PHP process, against a freshly restarted connector,
 * gets it back to the connector through the 503 secrets_not_loaded path; disconnecting removes
 * it from pm_Settings; so does deleting the object (EventListener).
 */
final class SecretsEndToEndTest extends EndToEndCase
{
    private static function settingsText(): string
    {
        return (string) @file_get_contents(self::$settingsFile);
    }

    /** @return list<string> the vault's keys (opaque, the connector's) */
    private static function vaultKeys(): array
    {
        return (new Modules_GdriveBackup_SecretsVault())->keys();
    }

    private static function restartConnector(): void
    {
        $service = Modules_GdriveBackup_ConnectorService::fromContext();
        $pid = (int) @file_get_contents($service->pidPath());
        self::assertTrue($service->stop(), 'a service was running');
        for ($i = 0; $i < 200 && is_file("/proc/$pid/stat"); $i++) {
            usleep(25_000);
        }
        self::assertFileDoesNotExist("/proc/$pid/stat");
    }

    /** @return array{0: int, 1: string} status and body of one request, without the extension's client */
    private static function raw(Modules_GdriveBackup_ConnectorService $service, string $method, string $path): array
    {
        $token = $service->apiToken();
        if ($token === null || !file_exists($service->socketPath())) {
            return [0, ''];
        }
        $curl = curl_init('http://localhost' . $path);
        curl_setopt_array($curl, [
            CURLOPT_UNIX_SOCKET_PATH => $service->socketPath(),
            CURLOPT_CUSTOMREQUEST => $method,
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_HTTPHEADER => ['Authorization: Bearer ' . $token],
            CURLOPT_TIMEOUT => 10,
        ]);
        $body = (string) curl_exec($curl);
        $status = (int) curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
        curl_close($curl);
        return [$status, $body];
    }

    public function testConnectInThePanelBackUpInAnotherProcessAfterARestartThenDisconnect(): void
    {
        $email = self::connect('subscription', 12);
        // The panel stored what the connector journaled: one encrypted value, named by a hash.
        $keys = self::vaultKeys();
        self::assertCount(1, $keys);
        $all = pm_Settings::fakeAll();
        $encrypted = array_filter($all, static fn (string $value): bool => str_starts_with($value, '$AES-128-CBC$'));
        self::assertSame(['secret-' . sha1($keys[0])], array_keys(array_diff_key($encrypted, ['client-secret' => 1])));
        $token = (new Modules_GdriveBackup_SecretsVault())->all()[$keys[0]];
        self::assertNotSame('', $token);
        self::assertStringNotContainsString($token, self::settingsText());
        // Nothing of it on the connector's side of the disk.
        $dataDir = Modules_GdriveBackup_ConnectorService::fromContext()->dataDir;
        self::assertFileDoesNotExist("$dataDir/secrets.json");
        self::assertFileDoesNotExist("$dataDir/secrets.key");
        foreach (glob("$dataDir/*") as $file) {
            if (is_file($file)) {
                self::assertStringNotContainsString($token, (string) file_get_contents($file), basename($file));
            }
        }

        self::restartConnector();
        // The new service knows no secret: it refuses, and says why, until the extension loads them.
        $service = Modules_GdriveBackup_ConnectorService::fromContext();
        $service->start(static fn (): bool => self::raw($service, 'GET', '/v1/health')[0] === 200);
        [$status, $body] = self::raw($service, 'GET', '/v1/objects/subscription%3A12/account');
        self::assertSame(503, $status);
        self::assertSame('secrets_not_loaded', json_decode($body, true)['error']['code']);
        $local = tempnam(sys_get_temp_dir(), 'gdb-piece-');
        file_put_contents($local, str_repeat('plesk backup ', 1000));
        try {
            $process = proc_open(
                [PHP_BINARY, __DIR__ . '/support/backup-process.php', pm_Context::$varDir, 'subscription', '12', 'dumps/backup.tar', $local],
                [1 => ['pipe', 'w'], 2 => ['pipe', 'w']],
                $pipes,
            );
            $out = (string) stream_get_contents($pipes[1]);
            $err = (string) stream_get_contents($pipes[2]);
            self::assertSame(0, proc_close($process), $err);
        } finally {
            unlink($local);
        }
        self::assertSame(['name' => 'backup.tar', 'size' => 13000, 'isDir' => false, 'hash' => md5(str_repeat('plesk backup ', 1000))], json_decode($out, true));
        self::assertStringContainsString($email, self::hook('subscription', 12)->getDescription());

        // Disconnect on the settings page: the token leaves pm_Settings, index included.
        $form = self::hook('subscription', 12)->getSettingsSubForm();
        $form->isValid([Modules_GdriveBackup_SettingsSubForm::DISCONNECT => pm_Locale::lmsg('form.disconnect'), 'folder' => '']);
        $form->process();
        self::assertSame([], self::vaultKeys());
        self::assertSame([], array_filter(array_keys(pm_Settings::fakeAll()), static fn (string $name): bool => str_starts_with($name, 'secret')));
        self::assertFalse(self::hook('subscription', 12)->isConfigured());
        // Neither Plesk's log nor the connector's ever held the token.
        self::assertStringNotContainsString($token, pm_Log::text());
        self::assertStringNotContainsString($token, (string) file_get_contents("$dataDir/connector.log"));
    }

    public function testDeletingAConnectedObjectRemovesItsConnectionAndKeys(): void
    {
        self::connect('customer', 3);
        pm_Settings::set('folder-customer-3', 'Plesk Backups/jdoe');
        self::assertCount(1, self::vaultKeys());
        $listener = require PLIB . '/library/EventListener.php';
        $listener->handleEvent('client', 3, 'client_delete', [], []);
        self::assertSame([], self::vaultKeys());
        self::assertNull(pm_Settings::get('folder-customer-3'));
        self::assertNull(pm_Settings::get('connected-customer-3'));
        self::assertFalse(self::hook('customer', 3)->isConfigured());
        // Deleting a domain this panel never connected does not ask the connector.
        self::restartConnector();
        $listener->handleEvent('domain', 99, 'domain_delete', [], []);
        self::assertFileDoesNotExist(Modules_GdriveBackup_ConnectorService::fromContext()->pidPath());
    }
}
