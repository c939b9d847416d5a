<?php

declare(strict_types=1);

/**
 * Fake of Plesk's pm_Locale with the SDK's methods (plesk/pm-api-stubs pm/Locale.php): messages
 * from the extension's en-US.php with `%%name%%` placeholders. What lmsg() answers for a missing
 * key is not documented; the fake answers `[[key]]` so a test spots it, and the extension asks
 * keyExists() (SDK since 17.0) instead of judging lmsg()'s text.
 */
class pm_Locale
{
    public const FALLBACK_LOCALE = 'en-US';

    /** @var array<string, string>|null */
    private static ?array $messages = null;

    public static function getCode()
    {
        return self::FALLBACK_LOCALE;
    }

    public static function lmsg($key, $params = [])
    {
        $messages = self::messages();
        if (!isset($messages[$key])) {
            return '[[' . $key . ']]';
        }
        $text = $messages[$key];
        foreach ($params as $name => $value) {
            $text = str_replace('%%' . $name . '%%', (string) $value, $text);
        }
        return $text;
    }

    public static function keyExists($key, $findSection = false)
    {
        return isset(self::messages()[(string) $key]);
    }

    /** Test helper, not in the SDK: every message. @return array<string, string> */
    public static function all(): array
    {
        return self::messages();
    }

    /** @return array<string, string> */
    private static function messages(): array
    {
        if (self::$messages === null) {
            $messages = [];
            require pm_Context::getPlibDir() . 'resources/locales/en-US.php';
            self::$messages = $messages;
        }
        return self::$messages;
    }
}
