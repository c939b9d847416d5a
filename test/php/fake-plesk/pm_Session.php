<?php

declare(strict_types=1);

/** Fake of Plesk's pm_Session: the logged-in client, chosen by the tests. */
class pm_Session
{
    public static ?pm_Client $client = null;

    public static function getClient(): pm_Client
    {
        return self::$client ?? pm_Client::admin();
    }
}
