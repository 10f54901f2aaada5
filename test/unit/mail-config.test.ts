/** The settings of SPEC §10/§11 for mail and recovery: defaults, and one-line errors naming the variable. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';

const KEY = 'k'.repeat(40);

function refuses(env: Record<string, string>, variable: string): void {
  assert.throws(() => loadConfig({ SIGNING_KEY: KEY, ...env }), (error: unknown) => error instanceof ConfigError && error.variable === variable && !error.message.includes('\n'));
}

describe('mail and recovery settings', () => {
  it("defaults: the console backend, Django's EMAIL_* defaults, links to Latchkey's own pages, 1h and 24h", () => {
    const config = loadConfig({ SIGNING_KEY: KEY });
    assert.deepEqual(config.mail, {
      backend: 'console', host: 'localhost', port: 25, user: '', password: '', useTls: false, useSsl: false, timeout: 30_000, from: 'webmaster@localhost', templatesDir: undefined,
    });
    assert.equal(config.passwordResetConfirmUrl, '/account/reset/{uid}/{token}');
    assert.equal(config.activationUrl, '/account/verify-email/{uid}/{token}');
    assert.equal(config.emailVerification, 'none');
    assert.equal(config.passwordResetTokenLifetime, 3_600_000);
    assert.equal(config.emailVerificationTokenLifetime, 86_400_000);
    assert.equal(config.djangoPasswordResetTimeout, 259_200_000);
    assert.equal(config.throttle?.passwordResetsPerIp, 20);
    assert.equal(config.throttle?.passwordResetsPerAddress, 3);
  });

  it('bad values fail at start, naming the variable', () => {
    refuses({ EMAIL_BACKEND: 'sendmail' }, 'EMAIL_BACKEND');
    refuses({ EMAIL_PORT: 'smtp' }, 'EMAIL_PORT');
    refuses({ EMAIL_USE_TLS: 'true', EMAIL_USE_SSL: 'true' }, 'EMAIL_USE_SSL');
    refuses({ PASSWORD_RESET_CONFIRM_URL: '/reset/{token}' }, 'PASSWORD_RESET_CONFIRM_URL');
    refuses({ ACTIVATION_URL: '/activate' }, 'ACTIVATION_URL');
    refuses({ EMAIL_VERIFICATION: 'always' }, 'EMAIL_VERIFICATION');
    refuses({ FRONTEND_URL: 'app.example.com' }, 'FRONTEND_URL');
    refuses({ PASSWORD_RESET_TOKEN_LIFETIME: 'soon' }, 'PASSWORD_RESET_TOKEN_LIFETIME');
    refuses({ THROTTLE_PASSWORD_RESETS_PER_IP: '0' }, 'THROTTLE_PASSWORD_RESETS_PER_IP');
  });

  it('production with SMTP must say where links point (PUBLIC_URL or FRONTEND_URL), never a Host header', () => {
    refuses({ NODE_ENV: 'production', EMAIL_BACKEND: 'smtp' }, 'PUBLIC_URL');
    assert.equal(loadConfig({ SIGNING_KEY: KEY, NODE_ENV: 'production', EMAIL_BACKEND: 'smtp', FRONTEND_URL: 'https://app.example.com/' }).frontendUrl, 'https://app.example.com');
  });
});
