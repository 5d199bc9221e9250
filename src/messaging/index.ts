/**
 * @module messaging — the channels and the outbox's delivery: email over SMTP
 * (Liquid + MJML templates, plain-text part, DKIM, RFC 8058 one-click
 * unsubscribe, open and click tracking with UTM tags), signed outgoing
 * webhooks; send-time consent, frequency caps and quiet hours; retries with
 * back-off; bounces; the shop's messaging settings.
 */
export { smtpChannel, noEmailChannel, httpWebhookChannel, classifySmtpError, DeliveryError, type EmailChannel, type WebhookChannel, type OutgoingEmail, type SmtpOptions } from "./channels.ts";
export { deliverDue, capFreeAt, retryDelayMs, LEASE_MS, MAX_ATTEMPTS, type DeliveryDeps, type DeliveryResult } from "./deliver.ts";
export { renderEmail, renderSubject, compileTemplate, withUtm, type EmailTemplate, type RenderedEmail } from "./render.ts";
export { loadContexts, type TemplateContext } from "./context.ts";
export { MessagingSettings, DEFAULT_SETTINGS, getMessagingSettings, putMessagingSettings } from "./settings.ts";
export { signingSecret, signLink, verifyLink, type LinkPayload } from "./links.ts";
export { recordOpen, recordClick, setEmailConsentByLink, type UnsubscribeResult } from "./engagement.ts";
export { previewEmail, EmailPreviewInput } from "./preview.ts";
