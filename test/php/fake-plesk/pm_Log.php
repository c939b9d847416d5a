<?php

declare(strict_types=1);

/** Fake of Plesk's pm_Log (methods as plesk/pm-api-stubs pm/Log.php declares them, untyped): keeps the lines so tests can assert what was (not) logged. */
class pm_Log
{
    /** @var list<array{0: string, 1: string}> */
    public static array $lines = [];

    public static function debug($message)
    {
        self::$lines[] = ['debug', (string) $message];
    }

    public static function info($message)
    {
        self::$lines[] = ['info', (string) $message];
    }

    public static function warn($message)
    {
        self::$lines[] = ['warn', (string) $message];
    }

    public static function err($message)
    {
        self::$lines[] = ['err', (string) $message];
    }

    public static function text(): string
    {
        return implode("\n", array_map(static fn (array $line): string => $line[1], self::$lines));
    }
}
