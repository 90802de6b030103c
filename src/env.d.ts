/** Variables and secrets not declared in wrangler.toml (set per deployment). */
interface DeploymentSettings {
  /** Origin to forward admitted requests to; unset means the zone's origin (`fetch(request)`). */
  ORIGIN_URL?: string;
  /** Bearer secret of the admin API (`wrangler secret put ADMIN_TOKEN`); unset turns the admin API off. */
  ADMIN_TOKEN?: string;
  /** Path prefix of the admin API and dashboard (default `/_ratelimit`). */
  ADMIN_PREFIX?: string;
}

interface Env extends DeploymentSettings {}

declare namespace Cloudflare {
  interface Env extends DeploymentSettings {}
}
