<?php

declare(strict_types=1);

/** "Connect Google Drive" through the one fixed callback, against the real connector and sandbox. */
final class OAuthRedirectTest extends EndToEndCase
{
    public function testNotConnectedPageOffersConnect(): void
    {
        $hook = self::hook('subscription', 12);
        self::assertFalse($hook->isConfigured());
        $hook->authorize($page = self::page(self::settingsUri('subscription', 12)));
        self::assertNull($page->redirectedTo);
        $connect = (string) $hook->getSettingsSubForm()->getElement('connect')->getDescription();
        self::assertStringContainsString('gdrive-connect=1', $connect);
        self::assertStringContainsString('not connected', $hook->getDescription());
    }

    public function testConnectsThroughTheRedirectAndDisconnects(): void
    {
        $consent = self::clickConnect('subscription', 12);
        self::assertStringStartsWith(self::$sandbox->env['GDRIVE_OAUTH_AUTH_URL'], $consent);
        parse_str((string) parse_url($consent, PHP_URL_QUERY), $query);
        self::assertSame(Modules_GdriveBackup_Settings::callbackUrl(), $query['redirect_uri']);

        $answer = Sandbox::consent($consent);
        unset($answer['__redirect']);
        $form = self::answer($answer, 'subscription', 12);
        self::assertMatchesRegularExpression('/^Google Drive is connected as \S+@\S+\.$/', self::message($form));

        $hook = self::hook('subscription', 12);
        self::assertTrue($hook->isConfigured());
        $form = $hook->getSettingsSubForm();
        self::assertStringContainsString('subscription/example.com', (string) $form->getElement('account')->getDescription());
        self::assertNotNull($form->getElement('gdrive-disconnect'));
        self::assertMatchesRegularExpression('#^Google Drive: \S+@\S+, folder My Drive/.+/subscription/example\.com$#', $hook->getDescription());

        // The same answer once more (browser back, replay): refused at the callback and on the
        // settings page, the connection unchanged.
        $replay = (new Modules_GdriveBackup_OAuthCallback())->bounce($answer);
        self::assertSame(400, $replay['status']);
        self::assertStringContainsString('unknown, expired or already used', $replay['message']);
        $page = self::settingsUri('subscription', 12) . '&gdrive-state=' . rawurlencode($answer['state']) . '&gdrive-code=' . rawurlencode($answer['code']);
        $form = self::answer($answer, 'subscription', 12, $page);
        self::assertStringContainsString('unknown, expired or already used', self::message($form));
        self::assertTrue(self::hook('subscription', 12)->isConfigured());

        // Disconnect: the button posted with the form.
        $form = self::hook('subscription', 12)->getSettingsSubForm();
        self::assertTrue($form->isValid(['gdrive-disconnect' => 'Disconnect', 'folder' => '']));
        $form->process();
        self::assertFalse(self::hook('subscription', 12)->isConfigured());
        self::assertStringContainsString('is disconnected', self::message(self::hook('subscription', 12)->getSettingsSubForm()));
    }

    public function testTheObjectsFolderSettingGoesWithConnect(): void
    {
        Modules_GdriveBackup_Settings::setFolder(Modules_GdriveBackup_BackupObject::fromHook('subscription', 13), 'Shop backups');
        self::connect('subscription', 13);
        self::assertMatchesRegularExpression('#^Google Drive: \S+@\S+, folder My Drive/Shop backups/subscription/shop\.example\.org$#', self::hook('subscription', 13)->getDescription());
    }

    public function testAccessDeniedStoresNothing(): void
    {
        $consent = self::clickConnect('reseller', 2);
        parse_str((string) parse_url($consent, PHP_URL_QUERY), $query);
        $form = self::answer(['error' => 'access_denied', 'state' => $query['state']], 'reseller', 2);
        self::assertStringContainsString('Access to Google Drive was not granted (access_denied)', self::message($form));
        self::assertFalse(self::hook('reseller', 2)->isConfigured());
        self::assertNotNull($form->getElement('connect'));
    }

    public function testAnAnswerMeantForAnotherObjectIsRefusedThere(): void
    {
        $consent = self::clickConnect('customer', 3);
        $answer = Sandbox::consent($consent);
        unset($answer['__redirect']);
        $location = (new Modules_GdriveBackup_OAuthCallback())->bounce($answer)['location'];
        // The customer's answer delivered to the server's settings page.
        $serverPage = self::settingsUri('server', null) . '&' . parse_url($location, PHP_URL_QUERY);
        $form = self::answer($answer, 'server', null, $serverPage);
        self::assertStringContainsString('belongs to the storage settings of another', self::message($form));
        self::assertFalse(self::hook('server', null)->isConfigured());
        // It still completes on its own page (the callback let the state through once already).
        self::assertSame(400, (new Modules_GdriveBackup_OAuthCallback())->bounce($answer)['status']);
        $form = self::answer($answer, 'customer', 3, $location);
        self::assertStringContainsString('Google Drive is connected as', self::message($form));
        self::assertTrue(self::hook('customer', 3)->isConfigured());
        self::assertFalse(self::hook('server', null)->isConfigured());
    }

    public function testUnknownStatesStopAtTheCallback(): void
    {
        $result = (new Modules_GdriveBackup_OAuthCallback())->bounce(['code' => 'x', 'state' => 'forged']);
        self::assertSame(400, $result['status']);
        // Forged straight onto the settings page: refused without asking the connector.
        $page = self::settingsUri('subscription', 13) . '&gdrive-state=forged&gdrive-code=x';
        $form = self::answer(['state' => 'unused'], 'subscription', 13, $page);
        self::assertStringContainsString('unknown, expired or already used', self::message($form));
    }
}
