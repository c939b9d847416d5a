<?php

declare(strict_types=1);

/**
 * Where Plesk puts the files it hands to appendFile and expects from readFile: its dump
 * directory (`DUMP_D` in /etc/psa/psa.conf, default /var/lib/psa/dumps, movable by the admin;
 * Plesk KB "Local backup structure in Plesk for Linux") and its temp directories
 * (pm_ProductInfo::getPrivateTempDir(), SDK since 17.8, and PHP's). The connector may read and
 * write local files only inside these (GDRIVE_EXCHANGE_DIRS, handed over when it is started).
 */
final class Modules_GdriveBackup_PleskDirs
{
    public const DEFAULT_DUMP_DIR = '/var/lib/psa/dumps';

    public function __construct(private readonly string $psaConf = '/etc/psa/psa.conf')
    {
    }

    /** The dump directory: DUMPS_REPOSITORY_DIR when Plesk defines it, else DUMP_D of psa.conf. */
    public function dumpDir(): string
    {
        if (defined('DUMPS_REPOSITORY_DIR') && is_string(constant('DUMPS_REPOSITORY_DIR')) && constant('DUMPS_REPOSITORY_DIR') !== '') {
            return rtrim((string) constant('DUMPS_REPOSITORY_DIR'), '/');
        }
        $text = @file_get_contents($this->psaConf);
        if (is_string($text) && preg_match('/^[ \t]*DUMP_D[ \t]+(\/\S*)[ \t]*$/m', $text, $match)) {
            return rtrim($match[1], '/') ?: '/';
        }
        return self::DEFAULT_DUMP_DIR;
    }

    /** @return list<string> the dump dir and the temp dirs, each once */
    public function exchangeDirs(): array
    {
        $dirs = [$this->dumpDir()];
        try {
            $dirs[] = (string) pm_ProductInfo::getPrivateTempDir();
        } catch (Throwable $error) {
            pm_Log::warn('No Plesk temp directory: ' . $error->getMessage());
        }
        $dirs[] = sys_get_temp_dir();
        $dirs = array_map(static fn (string $dir): string => rtrim($dir, '/') ?: '/', array_filter($dirs, static fn (string $dir): bool => str_starts_with($dir, '/')));
        return array_values(array_unique($dirs));
    }
}
