/**
 * How a mail leaves: SMTP through nodemailer (the only importer of it), or the
 * log (EMAIL_BACKEND=console). Nothing else in Latchkey talks SMTP.
 */
import nodemailer from 'nodemailer';
import type { MailConfig } from '../config.ts';

export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface MailTransport {
  /** Resolves once the message is accepted; rejects with the reason otherwise. */
  send(mail: OutgoingMail): Promise<void>;
  close(): void;
}

/** Where the console backend writes (the server's pino logger). */
export interface MailLogger {
  info(object: object, message: string): void;
}

/**
 * Django's SMTP backend, in nodemailer's terms: EMAIL_USE_SSL is implicit TLS
 * (`secure`), EMAIL_USE_TLS is STARTTLS, required (`requireTLS`).
 * @example const transport = smtpTransport(config.mail);
 */
export function smtpTransport(mail: MailConfig): MailTransport {
  const transporter = nodemailer.createTransport({
    host: mail.host,
    port: mail.port,
    secure: mail.useSsl,
    requireTLS: mail.useTls,
    // As Django: without EMAIL_USE_TLS no STARTTLS, even where the server offers it.
    ignoreTLS: !mail.useTls && !mail.useSsl,
    ...(mail.user !== '' ? { auth: { user: mail.user, pass: mail.password } } : {}),
    connectionTimeout: mail.timeout,
    greetingTimeout: mail.timeout,
    socketTimeout: mail.timeout,
  });
  return {
    async send(message) {
      await transporter.sendMail({ from: mail.from, ...message });
    },
    close: () => transporter.close(),
  };
}

/**
 * EMAIL_BACKEND=console, as Django's: the whole message, link included, in the
 * log, so a development setup shows the reset flow with no mail server.
 */
export function consoleTransport(from: string, logger: MailLogger | undefined): MailTransport {
  return {
    async send(message) {
      const line = { mail: { from, to: message.to, subject: message.subject, text: message.text } };
      if (logger) logger.info(line, `mail to ${message.to}: ${message.subject}\n${message.text}`);
      else process.stdout.write(`From: ${from}\nTo: ${message.to}\nSubject: ${message.subject}\n\n${message.text}\n`);
    },
    close: () => {},
  };
}
