<?php

declare(strict_types=1);

/**
 * The extension's own page. The server administrator enters the OAuth client of the Google
 * Cloud project once (id in pm_Settings, secret encrypted, never shown back in full) and sees
 * the callback URL to register at Google; resellers and customers are told where Connect is.
 */
class IndexController extends pm_Controller_Action
{
    public function indexAction()
    {
        $request = $this->getRequest();
        $this->view->pageTitle = pm_Locale::lmsg('index.title');
        $this->view->isAdmin = pm_Session::getClient()->isAdmin();
        $this->view->callbackUrl = Modules_GdriveBackup_Settings::callbackUrl($request);
        if (!$this->view->isAdmin) {
            return;
        }
        $form = $this->clientForm($this->view->callbackUrl);
        if ($request->isPost() && $this->isValid($form, $request->getPost())) {
            $changed = Modules_GdriveBackup_Settings::saveClient(
                trim((string) $form->getValue('clientId')),
                trim((string) $form->getValue('clientSecret')),
                trim((string) $form->getValue('callbackUrl')),
            );
            if ($changed) {
                // The service got the old client in its environment: the next call starts it anew.
                Modules_GdriveBackup_ConnectorService::fromContext()->stop();
            }
            $this->_status->addMessage('info', pm_Locale::lmsg('index.saved'));
            $this->redirect(pm_Context::getBaseUrl(), ['prependBase' => false]);
            return;
        }
        $this->view->form = $form;
    }

    private function clientForm(string $callbackUrl): pm_Form_Simple
    {
        $masked = Modules_GdriveBackup_Settings::maskedClientSecret();
        $form = new pm_Form_Simple();
        $form->addElement('text', 'clientId', [
            'label' => pm_Locale::lmsg('index.clientId'),
            'value' => Modules_GdriveBackup_Settings::clientId(),
            'required' => true,
        ]);
        $form->addElement('password', 'clientSecret', [
            'label' => pm_Locale::lmsg('index.clientSecret'),
            'required' => $masked === '',
            'description' => $masked === ''
                ? pm_Locale::lmsg('index.clientSecretHint')
                : pm_Locale::lmsg('index.clientSecretStored', ['masked' => $masked]),
        ]);
        $form->addElement('text', 'callbackUrl', [
            'label' => pm_Locale::lmsg('index.callbackUrl'),
            'value' => $callbackUrl,
            'required' => true,
            'description' => pm_Locale::lmsg('index.callbackUrlHint'),
        ]);
        $form->addControlButtons(['cancelHidden' => true]);
        return $form;
    }

    /** @param array<string, mixed> $post */
    private function isValid(pm_Form_Simple $form, array $post): bool
    {
        $valid = $form->isValid($post);
        if (preg_match('/\s/', trim((string) $form->getValue('clientId')))) {
            $form->getElement('clientId')->addError(pm_Locale::lmsg('index.clientIdInvalid'));
            $valid = false;
        }
        $url = trim((string) $form->getValue('callbackUrl'));
        if (!preg_match('#^https?://[^/\s]+/\S*/public/oauth-callback\.php$#', $url)) {
            $form->getElement('callbackUrl')->addError(pm_Locale::lmsg('index.callbackUrlInvalid'));
            $valid = false;
        }
        return $valid;
    }
}
