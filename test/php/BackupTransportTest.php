<?php

declare(strict_types=1);

/**
 * The hook in the order Plesk's backup manager calls it, against the real connector service
 * and sandbox: a subscription backup (metadata file + a split set written in appendFile
 * pieces), verified by the hash getHash() announces, listed, restored from an offset in sized
 * reads, rotated away; then bad input.
 */
final class BackupTransportTest extends EndToEndCase
{
    private const PIECE = 3_000_000;

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
        $file = tempnam(sys_get_temp_dir(), 'gdb-plesk-');
        file_put_contents($file, $content);
        return $this->localFiles[] = $file;
    }

    /** Writes $data as Plesk does: openFileWrite, appendFile of ~PIECE local files, closeFile. */
    private function write(Modules_GdriveBackup_Backup_Transport $hook, string $path, string $data): void
    {
        $fd = $hook->openFileWrite($path);
        foreach (str_split($data, self::PIECE) as $piece) {
            $local = $this->localFile($piece);
            self::assertSame(strlen($piece), $hook->appendFile($fd, $local));
            unlink($local); // Plesk removes each part once appendFile returned.
        }
        $hook->closeFile($fd);
    }

    private static function data(int $size, string $seed): string
    {
        $data = '';
        for ($i = 0; strlen($data) < $size; $i++) {
            $data .= hash('sha512', "$seed-$i", true);
        }
        return substr($data, 0, $size);
    }

    public function testBackupAndRestoreInPleskOrder(): void
    {
        self::connect('subscription', 12);
        $hook = self::hook('subscription', 12);
        self::assertTrue($hook->isConfigured());
        self::assertSame(['errors' => [], 'warnings' => []], $hook->check());
        self::assertSame(['type' => 'md5', 'blockSize' => 0], $hook->getHash());
        self::assertSame(100 * 1024 * 1024, $hook->getWriteBufferSize());

        $dir = 'clients/jdoe/domains/example.com';
        $hook->createDir($dir);
        $info = '<?xml version="1.0"?><backup-info created="2611270600"/>';
        $this->write($hook, "$dir/backup_info_2611270600.xml", $info);
        $set = [
            'backup.tar' => self::data(7 * 1024 * 1024 + 11, 'a'),
            'backup.tar1' => self::data(7 * 1024 * 1024 + 11, 'b'),
            'backup.tar2' => self::data(1_234_567, 'c'),
        ];
        foreach ($set as $name => $data) {
            $this->write($hook, "$dir/$name", $data);
        }

        // Plesk verifies each new file with the hash getHash() announced.
        foreach ($set + ['backup_info_2611270600.xml' => $info] as $name => $data) {
            $stat = $hook->stat("$dir/$name");
            self::assertSame(['name' => $name, 'size' => strlen($data), 'isDir' => false, 'hash' => md5($data)], $stat);
        }
        self::assertTrue($hook->stat($dir)['isDir']);
        self::assertNull($hook->stat("$dir/backup.tar3"));

        $listed = $hook->listDir($dir);
        usort($listed, static fn (array $a, array $b): int => strcmp($a['name'], $b['name']));
        self::assertSame(['backup.tar', 'backup.tar1', 'backup.tar2', 'backup_info_2611270600.xml'], array_column($listed, 'name'));
        self::assertSame(md5($set['backup.tar1']), $listed[1]['hash']);
        self::assertSame([['name' => 'domains', 'size' => 0, 'isDir' => true]], array_map(
            static fn (array $e): array => ['name' => $e['name'], 'size' => $e['size'], 'isDir' => $e['isDir']],
            $hook->listDir('clients/jdoe'),
        ));

        // Restore: from an offset, in sized pieces, the rest with size null.
        $offset = 1_234_567;
        $fd = $hook->openFileRead("$dir/backup.tar1", $offset);
        $restored = '';
        foreach ([2 * 1024 * 1024, 2_000_001] as $size) {
            $local = $this->localFile();
            self::assertSame($size, $hook->readFile($fd, $local, $size));
            $restored .= file_get_contents($local);
        }
        $local = $this->localFile();
        $rest = strlen($set['backup.tar1']) - $offset - strlen($restored);
        self::assertSame($rest, $hook->readFile($fd, $local, null));
        $restored .= file_get_contents($local);
        $hook->closeFile($fd);
        self::assertSame(substr($set['backup.tar1'], $offset), $restored, 'restored bytes');

        // Rotation.
        $hook->deleteFile("$dir/backup.tar2");
        self::assertNull($hook->stat("$dir/backup.tar2"));
        $hook->deleteDir('clients/jdoe');
        self::assertNull($hook->stat($dir));
        self::assertSame([], $hook->listDir('clients'));

        $quota = $hook->getQuota();
        self::assertIsInt($quota['total']);
        self::assertIsInt($quota['free']);
        self::assertLessThanOrEqual($quota['total'], $quota['free']);
        self::assertMatchesRegularExpression('#^Google Drive: \S+@\S+, folder My Drive/.+/subscription/example\.com$#', $hook->getDescription());
    }

    public function testAKilledServiceIsStartedAgainAndTheWriteCarriesOn(): void
    {
        self::connect('reseller', 2);
        $hook = self::hook('reseller', 2);
        $data = self::data(2 * self::PIECE + 5, 'k');
        $fd = $hook->openFileWrite('backup_2611270700.tar');
        $hook->appendFile($fd, $this->localFile(substr($data, 0, self::PIECE)));

        $service = Modules_GdriveBackup_ConnectorService::fromContext();
        $pid = (int) file_get_contents($service->pidPath());
        posix_kill($pid, SIGKILL);
        // Dead once its socket refuses connections (its threads may outlive the main one a moment).
        for ($i = 0; $i < 250 && ($probe = @stream_socket_client('unix://' . $service->socketPath())) !== false; $i++) {
            fclose($probe);
            usleep(20_000);
        }
        self::assertFileExists($service->socketPath(), 'a killed service leaves its socket behind');

        // The next call finds nothing listening, starts the service and goes on with the same fd.
        $hook->appendFile($fd, $this->localFile(substr($data, self::PIECE)));
        self::assertNotSame($pid, (int) file_get_contents($service->pidPath()));
        $hook->closeFile($fd);
        self::assertSame(md5($data), $hook->stat('backup_2611270700.tar')['hash']);
    }

    public function testBadInputGetsClearMessages(): void
    {
        self::connect('subscription', 13);
        $hook = self::hook('subscription', 13);
        foreach (['../etc', 'a/../../b', "a\0b"] as $path) {
            try {
                $hook->createDir($path);
                self::fail("accepted $path");
            } catch (pm_Exception $error) {
                self::assertStringContainsString('is not allowed', $error->getMessage(), $path);
            }
        }
        $this->assertRefused(fn () => $hook->closeFile('w-0123456789abcdef0123456789abcdef'), 'unknown or already closed');
        $this->assertRefused(fn () => $hook->appendFile('w-0123456789abcdef0123456789abcdef', $this->localFile('x')), 'unknown or already closed');
        $this->assertRefused(fn () => $hook->readFile('r-0123456789abcdef0123456789abcdef', $this->localFile(), 1), 'unknown or already closed');
        $this->assertRefused(fn () => $hook->closeFile('bogus'), 'The file handle "bogus" is unknown');
        $fd = $hook->openFileWrite('f.bin');
        $this->assertRefused(fn () => $hook->appendFile($fd, '/etc/hostname'), 'outside the exchange directories');
        $hook->closeFile($fd);
        $this->assertRefused(fn () => $hook->openFileRead('missing.tar', 0), 'There is no');
        $this->assertRefused(fn () => $hook->deleteDir('f.bin'), 'is a file, not a directory');
        // A hook method never passes a secret into what the admin or the log sees.
        self::assertStringNotContainsString(self::$sandbox->env['GDRIVE_CLIENT_SECRET'], pm_Log::text());
        $serviceLog = (string) file_get_contents(Modules_GdriveBackup_ConnectorService::fromContext()->logPath());
        self::assertStringNotContainsString(self::$sandbox->env['GDRIVE_CLIENT_SECRET'], $serviceLog);
        self::assertStringNotContainsString((string) Modules_GdriveBackup_ConnectorService::fromContext()->apiToken(), $serviceLog);
    }

    public function testAnObjectWithoutAccountSaysToConnect(): void
    {
        $hook = self::hook('customer', 33);
        self::assertFalse($hook->isConfigured());
        $check = $hook->check();
        self::assertCount(1, $check['errors']);
        self::assertStringContainsString('Connect Google Drive', $check['errors'][0]);
        $this->assertRefused(fn () => $hook->openFileWrite('x'), 'No Google account is connected for customer:33');
    }

    private function assertRefused(Closure $call, string $message): void
    {
        try {
            $call();
            self::fail("no pm_Exception, expected: $message");
        } catch (pm_Exception $error) {
            self::assertStringContainsString($message, $error->getMessage());
        }
    }
}
