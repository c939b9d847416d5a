<?php

declare(strict_types=1);

/**
 * Plesk's two users for real: the backup runs as root and hands the hook pieces only root can
 * read, in a dump directory named by psa.conf's DUMP_D; the connector runs as the owner of its
 * data dir (here `nobody`, standing for psaadm), as it does when root starts it. The pieces reach
 * Drive and a restore lands where Plesk asks (LocalFileAccess), through the real connector.
 */
final class CrossUserBackupTest extends EndToEndCase
{
    private const NOBODY = 65534;

    private static string $dumps;

    public static function setUpBeforeClass(): void
    {
        parent::setUpBeforeClass();
        // The panel's user owns the extension's var dir, so the data dir and the service are its.
        chmod(self::$root, 0755);
        mkdir(self::$root . '/var', 0755);
        chown(self::$root . '/var', self::NOBODY);
        chgrp(self::$root . '/var', self::NOBODY);
        self::$dumps = self::$root . '/plesk-dumps';
        mkdir(self::$dumps, 0755);
        file_put_contents(self::$root . '/psa.conf', 'DUMP_D ' . self::$dumps . "\n");
        pm_Settings::set('psa-conf', self::$root . '/psa.conf');
    }

    private static function piece(string $name, string $content): string
    {
        $file = self::$dumps . "/$name";
        file_put_contents($file, $content);
        chmod($file, 0600);
        return $file;
    }

    public function testRootOnlyPiecesGoUpAndARestoreComesBackAsRootsFile(): void
    {
        self::assertSame(0, posix_geteuid(), 'Plesk runs backups as root; so must this test');
        self::connect('subscription', 12);
        $service = Modules_GdriveBackup_ConnectorService::fromContext();
        $pid = (int) file_get_contents($service->pidPath());
        self::assertSame(self::NOBODY, (int) explode("\t", (string) preg_replace('/.*^Uid:\t/ms', '', (string) file_get_contents("/proc/$pid/status")))[0], 'the connector runs as the data dir owner');

        $hook = self::hook('subscription', 12);
        $first = str_repeat('first piece ', 5000);
        $second = str_repeat('second piece ', 4000);
        $fd = $hook->openFileWrite('dumps/backup.tar');
        // The dump dir is open, the piece is root's 0600: lent to the connector's group for the call.
        $piece = self::piece('part-1', $first);
        self::assertSame(strlen($first), $hook->appendFile($fd, $piece));
        self::assertSame([0600, 0], [fileperms($piece) & 07777, filegroup($piece)]);
        // The dump dir is closed to the connector: the piece goes through the spool.
        chmod(self::$dumps, 0700);
        $piece = self::piece('part-2', $second);
        self::assertSame(strlen($second), $hook->appendFile($fd, $piece));
        $hook->closeFile($fd);
        self::assertSame(md5($first . $second), $hook->stat('dumps/backup.tar')['hash']);

        // A restore into the closed dump dir: written in the spool, moved to Plesk's path.
        $target = self::$dumps . '/restore.tar';
        $read = $hook->openFileRead('dumps/backup.tar', 0);
        self::assertSame(strlen($first . $second), $hook->readFile($read, $target));
        $hook->closeFile($read);
        self::assertSame($first . $second, file_get_contents($target));
        self::assertSame(0, fileowner($target));
        self::assertSame([], glob($service->dataDir . '/spool/*'));
    }
}
