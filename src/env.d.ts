/** Variables and secrets not declared in wrangler.toml (set per deployment). */
interface DeploymentSettings {
  /** Origin to forward admitted requests to; unset means the zone's origin (`fetch(request)`). */
  ORIGIN_URL?: string;
  /** Bearer secret of the admin API (`wrangler secret put ADMIN_TOKEN`); unset turns the admin API off. */
  ADMIN_TOKEN?: string;
  /** Path prefix of the admin API and dashboard (default `/_ratelimit`). */
  ADMIN_PREFIX?: string;
  /** Where near-limit notifications are POSTed; unset drops them (logged). */
  NOTIFY_WEBHOOK_URL?: string;
  /** HMAC-SHA256 secret the notifications are signed with (`wrangler secret put NOTIFY_WEBHOOK_SECRET`). */
  NOTIFY_WEBHOOK_SECRET?: string;
  /**
   * Keys the digests that name rate-limit keys in logs, Analytics Engine points, the traffic record and
   * notifications (`wrangler secret put KEY_DIGEST_SECRET`, at least 32 bytes); unset leaves them unkeyed.
   */
  KEY_DIGEST_SECRET?: string;
}

interface Env extends DeploymentSettings {}

declare namespace Cloudflare {
  interface Env extends DeploymentSettings {}
}
