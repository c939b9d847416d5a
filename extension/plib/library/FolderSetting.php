<?php

declare(strict_types=1);

/**
 * An object's folder setting, the root its backups go under (`<root>/<type>/<name>/`): a folder
 * path in My Drive (`Plesk Backups/host`), `id:<folderId>` (an existing folder) or
 * `drive:<sharedDriveId>[/path]` (a shared drive). Empty: the connector's default root.
 */
final class Modules_GdriveBackup_FolderSetting
{
    private const MAX_NAME_BYTES = 255;

    /** @return string|null why the value is refused, null when it is fine ('' = the default) */
    public static function problem(string $value): ?string
    {
        if ($value === '') {
            return null;
        }
        if (str_starts_with($value, 'id:')) {
            return preg_match('/^id:[A-Za-z0-9_-]{10,200}$/', $value) ? null : pm_Locale::lmsg('form.folderBadId');
        }
        $names = explode('/', $value);
        if (str_starts_with($value, 'drive:')) {
            $names = explode('/', substr($value, 6));
            if (!preg_match('/^[A-Za-z0-9_-]{10,200}$/', array_shift($names))) {
                return pm_Locale::lmsg('form.folderBadDrive');
            }
        }
        foreach ($names as $segment) {
            if (($problem = self::nameProblem($segment)) !== null) {
                return $problem;
            }
        }
        return null;
    }

    private static function nameProblem(string $name): ?string
    {
        if ($name === '' || $name === '.' || $name === '..') {
            return pm_Locale::lmsg('form.folderBadName');
        }
        if (preg_match('/[\x00-\x1f\x7f]/', $name)) {
            return pm_Locale::lmsg('form.folderControlChars');
        }
        if (strlen($name) > self::MAX_NAME_BYTES) {
            return pm_Locale::lmsg('form.folderTooLong', ['max' => self::MAX_NAME_BYTES]);
        }
        return null;
    }
}
