<?php

declare(strict_types=1);

/** Fake of Plesk's pm_Session (methods as plesk/pm-api-stubs pm/Session.php declares them, untyped): the logged-in client, chosen by the tests. */
class pm_Session
{
    public static ?pm_Client $client = null;

    public static function getClient()
    {
        return self::$client ?? pm_Client::admin();
    }
}
