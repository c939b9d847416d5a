<?php

declare(strict_types=1);

/**
 * An object's folder setting: a folder name (the object's folder under the connector's root),
 * `id:<folderId>` (an existing Drive folder) or `drive:<sharedDriveId>[/path]` (a shared drive).
 */
final class Modules_GoogleDriveBackup_FolderSetting
{
    private const MAX_NAME_BYTES = 255;

    /** Whether the value names a Drive location (id:/drive:) rather than a folder name. */
    public static function isLocation(string $value): bool
    {
        return str_starts_with($value, 'id:') || str_starts_with($value, 'drive:');
    }

    /** @return string|null why the value is refused, null when it is fine ('' = the default) */
    public static function problem(string $value): ?string
    {
        if ($value === '') {
            return null;
        }
        if (str_starts_with($value, 'id:')) {
            return preg_match('/^id:[A-Za-z0-9_-]{10,200}$/', $value) ? null : pm_Locale::lmsg('form.folderBadId');
        }
        if (str_starts_with($value, 'drive:')) {
            $parts = explode('/', substr($value, 6));
            if (!preg_match('/^[A-Za-z0-9_-]{10,200}$/', array_shift($parts))) {
                return pm_Locale::lmsg('form.folderBadDrive');
            }
            foreach ($parts as $segment) {
                if (($problem = self::nameProblem($segment)) !== null) {
                    return $problem;
                }
            }
            return null;
        }
        return self::nameProblem($value);
    }

    private static function nameProblem(string $name): ?string
    {
        if ($name === '' || $name === '.' || $name === '..' || str_contains($name, '/')) {
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
