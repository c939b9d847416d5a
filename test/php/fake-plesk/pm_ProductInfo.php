<?php

declare(strict_types=1);

/** Fake of the part of Plesk's pm_ProductInfo the extension uses (plesk/pm-api-stubs pm/ProductInfo.php). */
class pm_ProductInfo
{
    /** Where the tests put Plesk's private temp dir; null: the system's. */
    public static ?string $privateTempDir = null;

    public static function getPrivateTempDir()
    {
        return self::$privateTempDir ?? sys_get_temp_dir();
    }
}
