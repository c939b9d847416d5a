<?php

declare(strict_types=1);

/**
 * Pieces Plesk's backup (root) makes, and pieces the connector (the data dir's owner, here
 * `nobody`) must write for a restore, checked against real file permissions: the connector's user
 * is asked to read or write through `runuser`, inside the call; afterwards Plesk's files are as
 * they were.
 */
final class LocalFileAccessTest extends PleskTestCase
{
    private const NOBODY = 65534;

    private string $dataDir;
    private string $plesk;

    protected function setUp(): void
    {
        parent::setUp();
        self::assertSame(0, posix_geteuid(), 'Plesk runs backups as root; so must this test');
        chmod($this->varDir, 0755);
        chmod(dirname($this->varDir), 0755) || true;
        $this->dataDir = $this->varDir . '/connector';
        mkdir($this->dataDir, 0700);
        chown($this->dataDir, self::NOBODY);
        chgrp($this->dataDir, self::NOBODY);
        $this->plesk = $this->varDir . '/dumps';
        mkdir($this->plesk, 0755);
    }

    private static function asNobody(string $shell): bool
    {
        exec('runuser -u nobody -- sh -c ' . escapeshellarg($shell) . ' 2>/dev/null', $output, $code);
        return $code === 0;
    }

    private function access(): Modules_GdriveBackup_LocalFileAccess
    {
        return new Modules_GdriveBackup_LocalFileAccess($this->dataDir);
    }

    public function testARootOnlyPieceIsReadableByTheConnectorForTheCallOnly(): void
    {
        $piece = "$this->plesk/backup.tar.part";
        file_put_contents($piece, 'piece');
        chmod($piece, 0600);
        self::assertFalse(self::asNobody('cat ' . escapeshellarg($piece)));
        $read = $this->access()->forReading($piece, static fn (string $path): bool => $path === $piece && self::asNobody('cat ' . escapeshellarg($path) . ' >/dev/null'));
        self::assertTrue($read);
        self::assertSame(0600, fileperms($piece) & 07777);
        self::assertSame(0, filegroup($piece));
        self::assertFalse(self::asNobody('cat ' . escapeshellarg($piece)));
    }

    public function testAPieceInAClosedDirectoryGoesThroughTheSpoolDir(): void
    {
        chmod($this->plesk, 0700);
        $piece = "$this->plesk/backup.tar.part";
        file_put_contents($piece, 'closed piece');
        $seen = $this->access()->forReading($piece, static function (string $path): string {
            self::assertTrue(self::asNobody('cat ' . escapeshellarg($path) . ' >/dev/null'));
            return $path;
        });
        self::assertStringStartsWith($this->dataDir . '/spool/piece-', $seen);
        self::assertFileDoesNotExist($seen);
        self::assertSame(0700, fileperms($this->plesk) & 07777);
    }

    public function testARestoreTargetTheConnectorCannotWriteArrivesAsPleskExpectsIt(): void
    {
        chmod($this->plesk, 0700);
        $target = "$this->plesk/restore.part";
        $bytes = $this->access()->forWriting($target, static function (string $path) use ($target): int {
            self::assertNotSame($target, $path);
            self::assertTrue(self::asNobody('printf restored > ' . escapeshellarg($path)));
            return 8;
        });
        self::assertSame(8, $bytes);
        self::assertSame('restored', file_get_contents($target));
        self::assertSame(0, fileowner($target));
        self::assertSame([], glob($this->dataDir . '/spool/*'));
    }

    public function testFilesTheConnectorCanUseStayAsTheyAre(): void
    {
        $open = "$this->plesk/open.part";
        file_put_contents($open, 'x');
        chmod($open, 0644);
        chmod($this->plesk, 0777);
        self::assertSame($open, $this->access()->forReading($open, static fn (string $path): string => $path));
        self::assertSame("$this->plesk/new.part", $this->access()->forWriting("$this->plesk/new.part", static fn (string $path): string => $path));
        self::assertSame(0644, fileperms($open) & 07777);
    }
}
