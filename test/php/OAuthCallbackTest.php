<?php

declare(strict_types=1);

/** The fixed callback bounces Google's answer to the page that asked, only for states it handed out. */
final class OAuthCallbackTest extends PleskTestCase
{
    private int $now = 1_800_000_000;

    private function states(): Modules_GdriveBackup_PendingStates
    {
        return new Modules_GdriveBackup_PendingStates(fn (): int => $this->now);
    }

    public function testBouncesCodeAndStateToTheRememberedPage(): void
    {
        $this->states()->remember('st-1', 'subscription:12', '/smb/backup/settings?domainId=12');
        $result = (new Modules_GdriveBackup_OAuthCallback($this->states()))->bounce(['code' => 'c/1', 'state' => 'st-1', 'scope' => 'x']);
        self::assertSame(302, $result['status']);
        self::assertSame('/smb/backup/settings?domainId=12&gdrive-state=st-1&gdrive-code=c%2F1', $result['location']);
    }

    public function testBouncesGoogleErrors(): void
    {
        $this->states()->remember('st-2', 'server', '/admin/backup/settings');
        $result = (new Modules_GdriveBackup_OAuthCallback($this->states()))->bounce(['error' => 'access_denied', 'state' => 'st-2']);
        self::assertSame('/admin/backup/settings?gdrive-state=st-2&gdrive-error=access_denied', $result['location']);
    }

    public function testUnknownMissingOrExpiredStatesEndAtTheCallback(): void
    {
        $callback = new Modules_GdriveBackup_OAuthCallback($this->states());
        $this->states()->remember('st-3', 'server', '/admin/backup/settings');
        self::assertSame(400, $callback->bounce(['code' => 'c', 'state' => 'other'])['status']);
        self::assertSame(400, $callback->bounce(['code' => 'c'])['status']);
        self::assertStringContainsString('unknown, expired or already used', $callback->bounce(['code' => 'c'])['message']);
        $this->now += Modules_GdriveBackup_PendingStates::TTL;
        self::assertSame(400, $callback->bounce(['code' => 'c', 'state' => 'st-3'])['status']);
    }

    public function testForgedReplayedForeignAndMissingStatesLeadNowhere(): void
    {
        $callback = new Modules_GdriveBackup_OAuthCallback($this->states());
        $this->states()->remember('st-4', 'subscription:12', '/smb/backup/settings?domainId=12');
        // Forged: never handed out; malformed; an array; missing.
        foreach ([['state' => 'forged-state', 'code' => 'c'], ['state' => "st-4\n", 'code' => 'c'], ['state' => ['st-4'], 'code' => 'c'], ['code' => 'c']] as $query) {
            self::assertSame(400, $callback->bounce($query)['status'], json_encode($query));
        }
        // Neither or both of code and error, or a code that is not Google's printable form.
        foreach ([[], ['code' => 'c', 'error' => 'access_denied'], ['code' => "c\r\nX: y"], ['code' => ''], ['error' => '<b>']] as $answer) {
            self::assertSame(400, $callback->bounce(['state' => 'st-4'] + $answer)['status'], json_encode($answer));
        }
        // None of the refusals used the state up: its real answer still goes through, once.
        self::assertSame(302, $callback->bounce(['state' => 'st-4', 'code' => 'c', 'redirect' => 'https://evil.example/'])['status']);
        self::assertSame(400, $callback->bounce(['state' => 'st-4', 'code' => 'c'])['status'], 'replayed');
        // Foreign: a state of another panel (or of the connector alone) is unknown here.
        $other = new Modules_GdriveBackup_PendingStates(fn (): int => $this->now);
        pm_Settings::set('oauth-pending', null);
        self::assertSame(400, (new Modules_GdriveBackup_OAuthCallback($other))->bounce(['state' => 'st-4', 'code' => 'c'])['status']);
    }

    public function testStatesAreKeptHashedAndExpiredOnesAreDropped(): void
    {
        $this->states()->remember('secret-state', 'server', '/a');
        self::assertStringNotContainsString('secret-state', (string) pm_Settings::get('oauth-pending'));
        $this->now += 601;
        $this->states()->remember('st-new', 'server', '/b');
        self::assertNull($this->states()->find('secret-state'));
        self::assertCount(1, json_decode((string) pm_Settings::get('oauth-pending'), true));
    }

    public function testNeverRemembersAPageOnAnotherHost(): void
    {
        foreach (['https://evil.example/x', '//evil.example/x', 'relative', "/a\r\nSet-Cookie: x"] as $url) {
            try {
                $this->states()->remember('st', 'server', $url);
                self::fail("accepted $url");
            } catch (pm_Exception $error) {
                self::assertStringContainsString('cannot return to', $error->getMessage());
            }
        }
    }

    public function testKeepsWithinThePleskValueLimit(): void
    {
        for ($i = 0; $i < 40; $i++) {
            $this->now++;
            $this->states()->remember("st-$i", 'subscription:' . (1000 + $i), '/smb/backup/remote-storage/ext/gdrive-backup?domainId=' . (1000 + $i));
        }
        self::assertLessThanOrEqual(5000, strlen((string) pm_Settings::get('oauth-pending')));
        self::assertNotNull($this->states()->find('st-39'));
    }
}
