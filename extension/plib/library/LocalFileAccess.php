<?php

declare(strict_types=1);

/**
 * Makes the local files of appendFile and readFile usable across the two users involved: Plesk's
 * backup runs as root and hands the hook files it made, while the connector runs as the owner of
 * its data dir (the panel's user, psaadm), because it switches to that owner when root starts it.
 * Where Plesk keeps those files, and with which owner and mode, is not documented (see the
 * reference file); so the hook checks each file against the connector's uid and gid:
 *
 * - readable (append) or writable (read) by the connector as it is: nothing changes;
 * - only the file's own mode is in the way: the file gets the connector's group with group read
 *   for the duration of the call, then its group and mode are put back;
 * - a directory on the way is closed to the connector: the piece goes through the spool
 *   directory `<data dir>/spool/` (an exchange dir the connector owns), copied there before an
 *   append, moved to Plesk's path after a read. That costs one local copy per piece (~100 MB).
 *
 * When PHP does not run as root, or the connector runs as root, files are used as they are.
 */
final class Modules_GdriveBackup_LocalFileAccess
{
    public function __construct(private readonly string $dataDir)
    {
    }

    public static function fromService(Modules_GdriveBackup_ConnectorService $service): self
    {
        return new self($service->dataDir);
    }

    public function spoolDir(): string
    {
        return $this->dataDir . '/spool';
    }

    /**
     * Runs $call with a path to $localFile's content that the connector can read.
     *
     * @template T
     * @param Closure(string): T $call
     * @return T
     */
    public function forReading(string $localFile, Closure $call): mixed
    {
        $user = $this->connectorUser();
        $pathOpen = $user !== null && self::pathOpen($localFile, $user);
        if ($user === null || !is_file($localFile) || ($pathOpen && self::allows($localFile, $user, 4))) {
            return $call($localFile);
        }
        if ($pathOpen) {
            $group = (int) filegroup($localFile);
            $mode = fileperms($localFile) & 07777;
            chgrp($localFile, $user['gid']);
            chmod($localFile, $mode | 0040);
            try {
                return $call($localFile);
            } finally {
                chgrp($localFile, $group);
                chmod($localFile, $mode);
            }
        }
        $copy = $this->spoolFile($user);
        try {
            if (!copy($localFile, $copy)) {
                throw new pm_Exception(pm_Locale::lmsg('local.copyFailed', ['path' => $localFile]));
            }
            return $call($copy);
        } finally {
            @unlink($copy);
        }
    }

    /**
     * Runs $call with a path the connector can write, whose content ends up in $localFile.
     *
     * @template T
     * @param Closure(string): T $call
     * @return T
     */
    public function forWriting(string $localFile, Closure $call): mixed
    {
        $user = $this->connectorUser();
        $dir = dirname($localFile);
        if ($user === null || !is_dir($dir)
            || (file_exists($localFile) ? self::allows($localFile, $user, 2) : self::allows($dir, $user, 3))
                && self::pathOpen($dir . '/x', $user)) {
            return $call($localFile);
        }
        $spooled = $this->spoolFile($user);
        try {
            $result = $call($spooled);
            if (!@rename($spooled, $localFile) && !(copy($spooled, $localFile) && unlink($spooled))) {
                throw new pm_Exception(pm_Locale::lmsg('local.copyFailed', ['path' => $localFile]));
            }
            // Plesk's file now: root's, like the files Plesk makes there.
            chown($localFile, 0);
            chgrp($localFile, 0);
            chmod($localFile, 0600);
            return $result;
        } finally {
            @unlink($spooled);
        }
    }

    /** @return array{uid: int, gid: int}|null null when files need no change of hands */
    private function connectorUser(): ?array
    {
        if (!function_exists('posix_geteuid') || posix_geteuid() !== 0) {
            return null;
        }
        $uid = @fileowner($this->dataDir);
        $gid = @filegroup($this->dataDir);
        return $uid === false || $uid === 0 || $gid === false ? null : ['uid' => $uid, 'gid' => $gid];
    }

    /** An empty file in the spool dir, the connector's, for one piece. @param array{uid: int, gid: int} $user */
    private function spoolFile(array $user): string
    {
        $dir = $this->spoolDir();
        if (!is_dir($dir) && !@mkdir($dir, 0700) && !is_dir($dir)) {
            throw new pm_Exception(pm_Locale::lmsg('connector.dataDirMissing', ['dir' => $dir]));
        }
        chown($dir, $user['uid']);
        chgrp($dir, $user['gid']);
        $file = $dir . '/piece-' . bin2hex(random_bytes(8));
        touch($file);
        chmod($file, 0600);
        chown($file, $user['uid']);
        chgrp($file, $user['gid']);
        return $file;
    }

    /**
     * Whether $user may do $bits (4 read, 2 write, 1 search; 3 write+search) on $path by its
     * owner, group or other bits; supplementary groups are not counted (it errs on the safe side).
     *
     * @param array{uid: int, gid: int} $user
     */
    private static function allows(string $path, array $user, int $bits): bool
    {
        $mode = @fileperms($path);
        if ($mode === false) {
            return false;
        }
        $shift = fileowner($path) === $user['uid'] ? 6 : (filegroup($path) === $user['gid'] ? 3 : 0);
        return (($mode >> $shift) & $bits) === $bits;
    }

    /** Every directory above $path lets $user through. @param array{uid: int, gid: int} $user */
    private static function pathOpen(string $path, array $user): bool
    {
        for ($dir = dirname($path); ; $dir = dirname($dir)) {
            if (!self::allows($dir, $user, 1)) {
                return false;
            }
            if ($dir === '/' || $dir === '.') {
                return true;
            }
        }
    }
}
