<?php

declare(strict_types=1);

/**
 * Two subscriptions connected to one Google account, through Plesk's settings pages, against the
 * real connector service and sandbox. Google keeps one grant per account and OAuth client
 * (revoking any token ends all of them), so disconnecting one must leave the other working,
 * also after a restart of the service.
 */
final class SharedAccountTest extends EndToEndCase
{
    /** @var list<string> */
    private array $localFiles = [];

    protected function tearDown(): void
    {
        foreach ($this->localFiles as $file) {
            @unlink($file);
        }
    }

    private function localFile(string $content = ''): string
    {
        $file = tempnam(sys_get_temp_dir(), 'gdb-shared-');
        file_put_contents($file, $content);
        return $this->localFiles[] = $file;
    }

    /** Backs `$data` up to `$path` as Plesk does and restores it; returns the restored bytes. */
    private function backupAndRestore(Modules_GdriveBackup_Backup_Transport $hook, string $path, string $data): string
    {
        $fd = $hook->openFileWrite($path);
        $hook->appendFile($fd, $this->localFile($data));
        $hook->closeFile($fd);
        $fd = $hook->openFileRead($path, 0);
        $local = $this->localFile();
        $hook->readFile($fd, $local, null);
        $hook->closeFile($fd);
        return (string) file_get_contents($local);
    }

    private static function disconnect(string $type, int $id): void
    {
        $form = self::hook($type, $id)->getSettingsSubForm();
        self::assertTrue($form->isValid(['gdrive-disconnect' => 'Disconnect', 'folder' => '']));
        $form->process();
    }

    public function testDisconnectingOneKeepsTheOtherBackingUpAndRestoring(): void
    {
        $email = self::connect('subscription', 12);
        self::assertSame($email, self::connect('subscription', 13));
        $first = self::hook('subscription', 12);
        $second = self::hook('subscription', 13);
        self::assertSame('one', $this->backupAndRestore($first, 'one.tar', 'one'));
        self::assertSame('two', $this->backupAndRestore($second, 'two.tar', 'two'));

        self::disconnect('subscription', 12);
        self::assertFalse(self::hook('subscription', 12)->isConfigured());
        // The service restarts (a fresh process refreshes its access token with the shared one).
        $service = Modules_GdriveBackup_ConnectorService::fromContext();
        $pid = (int) @file_get_contents($service->pidPath());
        if ($pid > 0) {
            posix_kill($pid, 15);
            for ($i = 0; $i < 100 && is_file("/proc/$pid/stat"); $i++) {
                usleep(50_000);
            }
        }
        $second = self::hook('subscription', 13);
        self::assertTrue($second->isConfigured());
        self::assertSame('still here', $this->backupAndRestore($second, 'three.tar', 'still here'));
        self::assertSame(['errors' => [], 'warnings' => []], $second->check());

        self::disconnect('subscription', 13);
        self::assertFalse(self::hook('subscription', 13)->isConfigured());
    }
}
