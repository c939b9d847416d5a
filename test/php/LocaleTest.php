<?php

declare(strict_types=1);

/** Every message the PHP side shows is a key of en-US.php, and every connector error code has one. */
final class LocaleTest extends PleskTestCase
{
    public function testEveryKeyTheExtensionUsesExists(): void
    {
        $used = [];
        $files = new RecursiveIteratorIterator(new RecursiveDirectoryIterator(PROJECT_ROOT . '/extension'));
        foreach ($files as $file) {
            if (preg_match('/\.(php|phtml)$/', $file->getFilename())) {
                preg_match_all("/lmsg\\('([^']+)'/", (string) file_get_contents($file->getPathname()), $matches);
                $used = array_merge($used, $matches[1]);
            }
        }
        $missing = array_diff(array_unique($used), array_keys(pm_Locale::all()));
        self::assertGreaterThan(40, count(array_unique($used)));
        self::assertSame([], array_values($missing), 'keys used but missing in en-US.php');
    }

    public function testEveryConnectorErrorCodeHasAMessageWithTheSamePlaceholders(): void
    {
        $source = (string) file_get_contents(PROJECT_ROOT . '/connector/errors/errors.ts');
        $block = substr($source, (int) strpos($source, 'export const ERRORS'));
        $block = substr($block, 0, (int) strpos($block, '} as const'));
        $entries = [];
        foreach (preg_split('/^  (?=\w+: \{)/m', $block) as $chunk) {
            if (preg_match('/^(\w+): \{/', $chunk, $match)) {
                $entries[$match[1]] = $chunk;
            }
        }
        self::assertGreaterThan(20, count($entries));
        foreach ($entries as $code => $body) {
            $text = pm_Locale::lmsg('error.' . $code);
            self::assertStringNotContainsString('[[', $text, "error.$code is missing");
            preg_match_all('/\{(\w+)\}/', $body, $tsParams);
            preg_match_all('/%%(\w+)%%/', $text, $phpParams);
            self::assertEqualsCanonicalizing(array_unique($tsParams[1]), array_unique($phpParams[1]), "placeholders of error.$code");
        }
    }

    public function testPlaceholdersAreFilled(): void
    {
        self::assertSame('Google Drive is connected as a@b.c.', pm_Locale::lmsg('oauth.connected', ['email' => 'a@b.c']));
    }
}
