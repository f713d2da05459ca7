/* Brute-force throttling of logins. Failures are rows in the store, keyed by
 * the account as typed (tenant and user name, so unknown accounts behave like
 * real ones) and by source address, so the limits hold across restarts and
 * across instances sharing a database. An account with the configured number
 * of failures in the last hour (at most 100, OWASP ASVS 2.2.1) is refused
 * before its password is even checked; each failure also earns a growing
 * delay. */
#include "iotvault/auth.h"

int throttle_count(struct store *st, const char *tenant, const char *username,
		   const char *source, int64_t now_ms, struct throttle_state *out)
{
	int64_t since = now_ms - THROTTLE_WINDOW_MS;
	int r;
	if ((r = st->ops->auth->login_failure_count_account(st, tenant, username, since,
							    &out->account_failures)) != 0)
		return r;
	return st->ops->auth->login_failure_count_source(st, source, since, &out->source_failures);
}

int throttle_exceeded(const struct config *cfg, const struct throttle_state *ts)
{
	return ts->account_failures >= cfg->auth_max_failures_per_account_hour ||
	       ts->source_failures >= cfg->auth_max_failures_per_source_hour;
}

int throttle_record_failure(struct store *st, const char *tenant, const char *username,
			    const char *source, int64_t now_ms, struct throttle_state *out)
{
	int r;
	/* the table holds one hour of failures at most, however many names are sprayed */
	if ((r = st->ops->auth->login_failure_purge(st, now_ms - THROTTLE_WINDOW_MS)) != 0 ||
	    (r = st->ops->auth->login_failure_record(st, tenant, username, source, now_ms)) != 0)
		return r;
	return throttle_count(st, tenant, username, source, now_ms, out);
}

static int64_t delay_for(const struct config *cfg, int64_t failures)
{
	int64_t d = cfg->auth_throttle_base_ms;
	if (failures <= 0 || d <= 0)
		return 0;
	for (int64_t i = 1; i < failures && d < cfg->auth_throttle_max_ms; i++)
		d *= 2;
	return d < cfg->auth_throttle_max_ms ? d : cfg->auth_throttle_max_ms;
}

int64_t throttle_delay_ms(const struct config *cfg, const struct throttle_state *ts)
{
	int64_t a = delay_for(cfg, ts->account_failures);
	int64_t s = delay_for(cfg, ts->source_failures);
	return a > s ? a : s;
}
