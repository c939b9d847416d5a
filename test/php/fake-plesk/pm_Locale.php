<?php

declare(strict_types=1);

/**
 * Fake of Plesk's pm_Locale: messages from the extension's en-US.php with `%%name%%`
 * placeholders, like Plesk. A missing key comes back as `[[key]]` so tests can spot it.
 */
class pm_Locale
{
    /** @var array<string, string>|null */
    private static ?array $messages = null;

    public static function lmsg($key, $params = []): string
    {
        if (self::$messages === null) {
            $messages = [];
            require pm_Context::getPlibDir() . 'resources/locales/en-US.php';
            self::$messages = $messages;
        }
        if (!isset(self::$messages[$key])) {
            return '[[' . $key . ']]';
        }
        $text = self::$messages[$key];
        foreach ($params as $name => $value) {
            $text = str_replace('%%' . $name . '%%', (string) $value, $text);
        }
        return $text;
    }

    /** @return array<string, string> */
    public static function all(): array
    {
        self::lmsg('');
        return self::$messages ?? [];
    }
}
