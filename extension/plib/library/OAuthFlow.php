<?php

declare(strict_types=1);

/**
 * "Connect Google Drive" for one backup object, run by the hook's authorize() on the storage
 * settings page:
 *
 *   settings page ?gdrive-connect=1 -> connector oauth/start -> Google's consent page
 *   -> the one fixed callback URL (OAuthCallback) -> back to the settings page with
 *   gdrive-code|gdrive-error + gdrive-state -> connector oauth/finish -> the clean page with a
 *   message naming the account (or saying clearly why not; nothing stored then).
 *
 * Google accepts only redirect URIs registered in advance, hence the fixed callback; the
 * settings page it returns to is remembered with the state (PendingStates).
 */
final class Modules_GdriveBackup_OAuthFlow
{
    public const CONNECT = 'gdrive-connect';
    public const STATE = 'gdrive-state';
    public const CODE = 'gdrive-code';
    public const ERROR = 'gdrive-error';

    public function __construct(
        private readonly Modules_GdriveBackup_BackupObject $object,
        private readonly Modules_GdriveBackup_ConnectorClient $client,
        private readonly Modules_GdriveBackup_PendingStates $states = new Modules_GdriveBackup_PendingStates(),
    ) {
    }

    /** The settings page's URL without this flow's parameters. */
    public static function cleanUrl(string $requestUri): string
    {
        $parts = explode('?', $requestUri, 2);
        if (!isset($parts[1])) {
            return $parts[0];
        }
        parse_str($parts[1], $query);
        unset($query[self::CONNECT], $query[self::STATE], $query[self::CODE], $query[self::ERROR]);
        return $parts[0] . ($query === [] ? '' : '?' . http_build_query($query));
    }

    /** The URL of the page's "Connect Google Drive" button. */
    public static function connectUrl(string $requestUri): string
    {
        return self::withQuery(self::cleanUrl($requestUri), [self::CONNECT => 1]);
    }

    /**
     * $url with $params added to its query.
     *
     * @param array<string, scalar> $params
     */
    public static function withQuery(string $url, array $params): string
    {
        return $url . (str_contains($url, '?') ? '&' : '?') . http_build_query($params);
    }

    public function authorize(Zend_Controller_Action $controller): void
    {
        $request = $controller->getRequest();
        $page = self::cleanUrl($request->getRequestUri());
        $state = $request->getParam(self::STATE);
        if ($request->getParam(self::CONNECT) !== null) {
            $this->start($controller, $page);
        } elseif (is_string($state) && $state !== '') {
            $this->finish($state, $request->getParam(self::CODE), $request->getParam(self::ERROR));
            $controller->redirect($page, ['prependBase' => false]);
        }
    }

    private function start(Zend_Controller_Action $controller, string $page): void
    {
        try {
            $callback = Modules_GdriveBackup_Settings::callbackUrl($controller->getRequest());
            $folder = Modules_GdriveBackup_Settings::folder($this->object);
            $url = $this->client->oauthStart($this->object->ref(), $callback, $this->object->displayName(), $folder);
            parse_str((string) parse_url($url, PHP_URL_QUERY), $query);
            $state = $query['state'] ?? null;
            if (!is_string($state) || $state === '') {
                throw new pm_Exception(pm_Locale::lmsg('oauth.noState'));
            }
            $this->states->remember($state, $this->object->ref(), $page);
        } catch (pm_Exception $error) {
            Modules_GdriveBackup_Settings::pushMessage($this->object, 'error', $error->getMessage());
            $controller->redirect($page, ['prependBase' => false]);
            return;
        }
        $controller->redirect($url);
    }

    private function finish(string $state, mixed $code, mixed $error): void
    {
        $record = $this->states->find($state);
        if ($record === null) {
            $this->fail(pm_Locale::lmsg('error.oauth_state_invalid'));
            return;
        }
        if ($record['object'] !== $this->object->ref()) {
            // Meant for another object's page: leave it to that page, store nothing here.
            $this->fail(pm_Locale::lmsg('oauth.otherObject'));
            return;
        }
        $this->states->forget($state);
        $code = is_string($code) && $code !== '' ? $code : null;
        $error = is_string($error) && $error !== '' ? $error : null;
        if ($code === null && $error === null) {
            $this->fail(pm_Locale::lmsg('error.oauth_state_invalid'));
            return;
        }
        try {
            $email = $this->client->oauthFinish($this->object->ref(), $state, $code, $error);
        } catch (pm_Exception $failure) {
            $this->fail($failure->getMessage());
            return;
        }
        Modules_GdriveBackup_Settings::markConnected($this->object, true);
        pm_Log::info('Connected Google Drive for ' . $this->object->ref());
        Modules_GdriveBackup_Settings::pushMessage($this->object, 'info', pm_Locale::lmsg('oauth.connected', ['email' => $email]));
    }

    private function fail(string $message): void
    {
        pm_Log::warn('Google Drive connection failed for ' . $this->object->ref() . ': ' . $message);
        Modules_GdriveBackup_Settings::pushMessage($this->object, 'error', $message);
    }
}
