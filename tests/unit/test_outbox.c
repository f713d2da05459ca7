/* Outbox unit tests: the webhook signature against an independent HMAC
 * (Python's hmac module), the URL rule, fan-out to MQTT and subscribed
 * webhooks, topic validation, the per-tenant bound (oldest dropped, counted,
 * one security event), transactions, cascades and the back-off schedule.
 *
 * With arguments it is also the integration tests' message source, so that
 * they exercise the real outbox_enqueue on a served data directory:
 *   test_outbox --enqueue DATA TENANT APPLICATION DEVICE EVENT COUNT [FIRST]
 * queues COUNT messages {"device":..,"event":..,"seq":FIRST+i}. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotvault/config.h"
#include "iotvault/outbox.h"
#include "iotvault/secmem.h"
#include "iotvault/store.h"
#include "iotvault/store_lorawan.h"
#include "iotvault/store_outbox.h"
#include "outbox/outbox_internal.h"

struct fixture {
	char dir[64];
	struct config cfg;
	struct store *st;
	int64_t acme, globex;
};

static void rm_rf(const char *dir)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void set_mqtt(struct fixture *f, const char *url, long max)
{
	free(f->cfg.mqtt_url);
	f->cfg.mqtt_url = url ? strdup(url) : NULL;
	f->cfg.outbox_max_per_tenant = max;
	assert_int_equal(outbox_configure(&f->cfg), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char path[128];
	assert_non_null(f);
	assert_int_equal(secmem_init(), 0);
	snprintf(f->dir, sizeof(f->dir), "/tmp/iotvault-test-outbox-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(config_defaults(&f->cfg, f->dir), 0);
	snprintf(path, sizeof(path), "%s/iotvault.db", f->dir);
	assert_int_equal(store_sqlite_open(path, 1, 5000, &f->st), 0);
	assert_int_equal(f->st->ops->tenant_create(f->st, "acme", &f->acme), 0);
	assert_int_equal(f->st->ops->tenant_create(f->st, "globex", &f->globex), 0);
	set_mqtt(f, "mqtts://broker.example:8883", 100000);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_close(f->st);
	rm_rf(f->dir);
	config_free(&f->cfg);
	free(f);
	return 0;
}

static int64_t add_webhook(struct fixture *f, int64_t tenant, const char *events, int enabled)
{
	struct webhook_record w;
	memset(&w, 0, sizeof(w));
	w.tenant_id = tenant;
	snprintf(w.url, sizeof(w.url), "https://receiver.example/hook");
	snprintf(w.events, sizeof(w.events), "%s", events);
	w.enabled = enabled;
	snprintf(w.created_by, sizeof(w.created_by), "alice");
	assert_int_equal(f->st->ops->outbox->webhook_insert(f->st, &w), 0);
	return w.id;
}

static int enqueue(struct fixture *f, int64_t tenant, const char *tname, const char *device,
		   const char *event, const char *json)
{
	struct outbox_message m = {tenant, tname, "default", device, event, json};
	return outbox_enqueue(f->st, &m);
}

/* Rows as "topic|body" lines, in order. */
struct collected {
	char text[8192];
	int n;
};

static int collect(void *ctx, const struct outbox_row *row)
{
	struct collected *c = ctx;
	size_t used = strlen(c->text);
	snprintf(c->text + used, sizeof(c->text) - used, "%s|%s\n", row->topic, row->body);
	c->n++;
	return 0;
}

static struct collected mqtt_rows(struct fixture *f)
{
	struct collected c;
	memset(&c, 0, sizeof(c));
	assert_int_equal(f->st->ops->outbox->list_mqtt(f->st, 0, 1000, collect, &c), 0);
	return c;
}

static struct collected webhook_rows(struct fixture *f, int64_t id)
{
	struct collected c;
	memset(&c, 0, sizeof(c));
	assert_int_equal(f->st->ops->outbox->list_webhook(f->st, id, 1000, collect, &c), 0);
	return c;
}

static void test_signature_known_answer(void **state)
{
	static const char key[] = "test-secret-not-real";
	static const char body[] = "{\"a\":1}";
	char sig[OUTBOX_SIGNATURE_LEN + 1];
	(void)state;
	/* python3: hmac.new(b"test-secret-not-real", b'1700000000.{"a":1}', sha256) */
	assert_int_equal(outbox_webhook_signature((const uint8_t *)key, strlen(key), 1700000000, body,
						  strlen(body), sig),
			 0);
	assert_string_equal(sig,
			    "v1=3307475b1ef4b098ceaabe53b07e4f1a3f3fbba6641dfeb6d0d62206f0bf05d4");
	/* another timestamp or one more byte of body gives another signature */
	assert_int_equal(outbox_webhook_signature((const uint8_t *)key, strlen(key), 1700000001, body,
						  strlen(body), sig),
			 0);
	assert_string_not_equal(sig,
				"v1=3307475b1ef4b098ceaabe53b07e4f1a3f3fbba6641dfeb6d0d62206f0bf05d4");
	assert_int_equal(outbox_webhook_signature((const uint8_t *)key, 0, 1, body, 1, sig),
			 IV_ERR_INVALID);
}

static void test_url_rule(void **state)
{
	char origin[128], long_url[700];
	static const char *const refused[] = {
		"http://example.com/hook", "ftp://example.com/", "https://user:pw@example.com/hook",
		"https://user@example.com/", "https://example.com/hook#frag", "example.com/hook",
		"https:///hook", "https://exa mple.com/", "https://example.com/\nX: 1", "", "mqtts://x/",
	};
	(void)state;
	assert_int_equal(outbox_webhook_url_check("https://example.com/hook", origin, sizeof(origin)), 0);
	assert_string_equal(origin, "https://example.com");
	assert_int_equal(
		outbox_webhook_url_check("https://127.0.0.1:8443/in?token=abc", origin, sizeof(origin)), 0);
	assert_string_equal(origin, "https://127.0.0.1:8443");
	assert_int_equal(outbox_webhook_url_check("HTTPS://Example.com/", NULL, 0), 0);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (outbox_webhook_url_check(refused[i], origin, sizeof(origin)) != IV_ERR_INVALID)
			fail_msg("URL %zu accepted", i);
	memset(long_url, 'a', sizeof(long_url) - 1);
	long_url[sizeof(long_url) - 1] = '\0';
	memcpy(long_url, "https://x.example/", 18);
	assert_int_equal(outbox_webhook_url_check(long_url, NULL, 0), IV_ERR_INVALID);
	assert_int_equal(outbox_webhook_url_check(NULL, NULL, 0), IV_ERR_INVALID);
}

static void test_fanout(void **state)
{
	struct fixture *f = *state;
	int64_t all = add_webhook(f, f->acme, "", 1);
	int64_t joins = add_webhook(f, f->acme, "join,status", 1);
	int64_t off = add_webhook(f, f->acme, "", 0);
	int64_t other = add_webhook(f, f->globex, "", 1);
	struct collected c;

	assert_int_equal(enqueue(f, f->acme, "acme", "70B3D57ED0000001", "up", "{\"t\":21.5}"), 0);
	assert_int_equal(enqueue(f, f->acme, "acme", "70B3D57ED0000001", "join", "{\"j\":1}"), 0);
	c = mqtt_rows(f);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.text, "iotvault/acme/default/70B3D57ED0000001/up|{\"t\":21.5}\n"
				    "iotvault/acme/default/70B3D57ED0000001/join|{\"j\":1}\n");
	c = webhook_rows(f, all);
	assert_string_equal(c.text, "up|{\"t\":21.5}\njoin|{\"j\":1}\n");
	c = webhook_rows(f, joins);
	assert_string_equal(c.text, "join|{\"j\":1}\n");
	assert_int_equal(webhook_rows(f, off).n, 0);
	assert_int_equal(webhook_rows(f, other).n, 0);
}

static void test_mqtt_off(void **state)
{
	struct fixture *f = *state;
	int64_t all = add_webhook(f, f->acme, "", 1);
	set_mqtt(f, NULL, 100000);
	assert_int_equal(enqueue(f, f->acme, "acme", "dev1", "up", "{}"), 0);
	assert_int_equal(mqtt_rows(f).n, 0);
	assert_int_equal(webhook_rows(f, all).n, 1);
	set_mqtt(f, "off", 100000);
	assert_int_equal(enqueue(f, f->acme, "acme", "dev1", "up", "{}"), 0);
	assert_int_equal(mqtt_rows(f).n, 0);
	/* no integration at all: nothing queued, no error */
	assert_int_equal(enqueue(f, f->globex, "globex", "dev1", "up", "{}"), 0);
}

static void test_invalid_messages(void **state)
{
	struct fixture *f = *state;
	static const char *const devices[] = {"a/b", "a+b", "#", "", "x\ny", "a\x7f"};
	struct outbox_message m = {f->acme, "acme", "default", "dev", "up", "{}"};
	char *big;

	for (size_t i = 0; i < sizeof(devices) / sizeof(devices[0]); i++)
		if (enqueue(f, f->acme, "acme", devices[i], "up", "{}") != IV_ERR_INVALID)
			fail_msg("device %zu accepted as a topic level", i);
	assert_int_equal(enqueue(f, f->acme, "acme", "dev", "up/x", "{}"), IV_ERR_INVALID);
	assert_int_equal(enqueue(f, f->acme, NULL, "dev", "up", "{}"), IV_ERR_INVALID);
	m.json = NULL;
	assert_int_equal(outbox_enqueue(f->st, &m), IV_ERR_INVALID);
	m.json = "{}";
	m.tenant_id = 0;
	assert_int_equal(outbox_enqueue(f->st, &m), IV_ERR_INVALID);
	assert_int_equal(outbox_enqueue(f->st, NULL), IV_ERR_INVALID);
	big = malloc(OUTBOX_BODY_MAX + 2);
	assert_non_null(big);
	memset(big, 'x', OUTBOX_BODY_MAX + 1);
	big[OUTBOX_BODY_MAX + 1] = '\0';
	assert_int_equal(enqueue(f, f->acme, "acme", "dev", "up", big), IV_ERR_TOO_LARGE);
	free(big);
	assert_int_equal(mqtt_rows(f).n, 0);
}

static void test_bound_drops_oldest(void **state)
{
	struct fixture *f = *state;
	struct outbox_tenant_stats s;
	struct collected c;
	char body[32];

	set_mqtt(f, "mqtts://broker.example", 5);
	for (int i = 0; i < 2; i++) {
		snprintf(body, sizeof(body), "{\"g\":%d}", i);
		assert_int_equal(enqueue(f, f->globex, "globex", "dev", "up", body), 0);
	}
	for (int i = 0; i < 8; i++) {
		snprintf(body, sizeof(body), "{\"seq\":%d}", i);
		assert_int_equal(enqueue(f, f->acme, "acme", "dev", "up", body), 0);
	}
	c = mqtt_rows(f);
	assert_int_equal(c.n, 7);
	assert_string_equal(c.text, "iotvault/globex/default/dev/up|{\"g\":0}\n"
				    "iotvault/globex/default/dev/up|{\"g\":1}\n"
				    "iotvault/acme/default/dev/up|{\"seq\":3}\n"
				    "iotvault/acme/default/dev/up|{\"seq\":4}\n"
				    "iotvault/acme/default/dev/up|{\"seq\":5}\n"
				    "iotvault/acme/default/dev/up|{\"seq\":6}\n"
				    "iotvault/acme/default/dev/up|{\"seq\":7}\n");
	assert_int_equal(f->st->ops->outbox->stats_get(f->st, f->acme, &s), 0);
	assert_int_equal(s.queued, 5);
	assert_int_equal(s.dropped, 3);
	assert_true(s.last_overflow_event_at > 0);
	assert_int_equal(f->st->ops->outbox->stats_get(f->st, f->globex, &s), 0);
	assert_int_equal(s.queued, 2);
	assert_int_equal(s.dropped, 0);
	/* three drops within a minute: one security event */
	assert_int_equal(f->st->ops->lorawan->security_event_count(f->st, "outbox_overflow"), 1);
}

static void test_caller_transaction(void **state)
{
	struct fixture *f = *state;
	struct outbox_tenant_stats s;
	assert_int_equal(f->st->ops->begin(f->st, 1), 0);
	assert_int_equal(enqueue(f, f->acme, "acme", "dev", "up", "{}"), 0);
	assert_int_equal(f->st->ops->rollback(f->st), 0);
	assert_int_equal(mqtt_rows(f).n, 0);
	assert_int_equal(f->st->ops->outbox->stats_get(f->st, f->acme, &s), 0);
	assert_int_equal(s.queued, 0);
}

static void test_delete_cascades(void **state)
{
	struct fixture *f = *state;
	struct outbox_tenant_stats s;
	int64_t w = add_webhook(f, f->acme, "", 1);
	for (int i = 0; i < 3; i++)
		assert_int_equal(enqueue(f, f->acme, "acme", "dev", "up", "{}"), 0);
	assert_int_equal(f->st->ops->outbox->stats_get(f->st, f->acme, &s), 0);
	assert_int_equal(s.queued, 6);
	/* another tenant cannot delete it */
	assert_int_equal(f->st->ops->outbox->webhook_delete(f->st, f->globex, w), IV_ERR_NOT_FOUND);
	assert_int_equal(f->st->ops->outbox->webhook_delete(f->st, f->acme, w), 0);
	assert_int_equal(webhook_rows(f, w).n, 0);
	assert_int_equal(mqtt_rows(f).n, 3);
	assert_int_equal(f->st->ops->outbox->stats_get(f->st, f->acme, &s), 0);
	assert_int_equal(s.queued, 3);
}

struct ids {
	int64_t id[8];
	int n;
};

static int collect_id(void *ctx, const struct outbox_row *row)
{
	struct ids *x = ctx;
	if (x->n < 8)
		x->id[x->n++] = row->id;
	return 0;
}

static void test_heads_wait_for_backoff(void **state)
{
	struct fixture *f = *state;
	int64_t a = add_webhook(f, f->acme, "", 1), b = add_webhook(f, f->acme, "", 1);
	int64_t now = store_now_ms();
	struct ids heads = {{0}, 0}, rows = {{0}, 0};

	set_mqtt(f, NULL, 100);
	for (int i = 0; i < 3; i++)
		assert_int_equal(enqueue(f, f->acme, "acme", "dev", "up", "{}"), 0);
	assert_int_equal(f->st->ops->outbox->list_webhook(f->st, a, 8, collect_id, &rows), 0);
	assert_int_equal(rows.n, 3);
	assert_int_equal(f->st->ops->outbox->list_webhook_heads(f->st, now + 1000, 8, collect_id, &heads),
			 0);
	assert_int_equal(heads.n, 2);
	/* A's head backs off: A's later rows must not overtake it */
	assert_int_equal(f->st->ops->outbox->retry_later(f->st, rows.id[0], 1, now + 60000), 0);
	heads.n = 0;
	assert_int_equal(f->st->ops->outbox->list_webhook_heads(f->st, now + 1000, 8, collect_id, &heads),
			 0);
	assert_int_equal(heads.n, 1);
	rows.n = 0;
	assert_int_equal(f->st->ops->outbox->list_webhook(f->st, b, 8, collect_id, &rows), 0);
	assert_int_equal(heads.id[0], rows.id[0]);
}

static void test_backoff_schedule(void **state)
{
	(void)state;
	assert_int_equal(outbox_backoff_ms(1, 300), 1000);
	assert_int_equal(outbox_backoff_ms(2, 300), 2000);
	assert_int_equal(outbox_backoff_ms(3, 300), 4000);
	assert_int_equal(outbox_backoff_ms(9, 300), 256000);
	assert_int_equal(outbox_backoff_ms(10, 300), 300000);
	assert_int_equal(outbox_backoff_ms(1000, 300), 300000);
	assert_int_equal(outbox_backoff_ms(5, 1), 1000);
}

static void test_configure_refuses_bad_prefix(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = {"", "/iv", "iv/", "a//b", "a/+/b", "a/#"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		free(f->cfg.mqtt_topic_prefix);
		f->cfg.mqtt_topic_prefix = strdup(bad[i]);
		if (outbox_configure(&f->cfg) != IV_ERR_CONFIG)
			fail_msg("prefix %zu accepted", i);
	}
	free(f->cfg.mqtt_topic_prefix);
	f->cfg.mqtt_topic_prefix = strdup("site-1/iotvault");
	assert_int_equal(outbox_configure(&f->cfg), 0);
	assert_int_equal(enqueue(f, f->acme, "acme", "dev", "up", "{}"), 0);
	assert_string_equal(mqtt_rows(f).text, "site-1/iotvault/acme/default/dev/up|{}\n");
}

/* ---- the integration tests' message source ---- */

static int enqueue_main(int argc, char **argv)
{
	struct config cfg;
	struct store *st = NULL;
	struct tenant t;
	char err[256], body[512], *path = NULL;
	long count, first = 0;
	int r, failed = 0;

	if (argc < 8 || argc > 9) {
		fprintf(stderr, "usage: test_outbox --enqueue DATA TENANT APPLICATION DEVICE EVENT "
				"COUNT [FIRST]\n");
		return 2;
	}
	count = strtol(argv[7], NULL, 10);
	if (argc == 9)
		first = strtol(argv[8], NULL, 10);
	if (secmem_init() != 0 || config_load(&cfg, argv[2], err, sizeof(err)) != 0) {
		fprintf(stderr, "test_outbox: cannot load the configuration: %s\n", err);
		return 1;
	}
	if ((r = outbox_configure(&cfg)) != 0 || (path = config_path(&cfg, cfg.db_path)) == NULL ||
	    (r = store_sqlite_open(path, 0, 10000, &st)) != 0 ||
	    (r = st->ops->tenant_get_by_name(st, argv[3], &t)) != 0) {
		fprintf(stderr, "test_outbox: %s\n", iv_error_message(r));
		failed = 1;
		goto out;
	}
	for (long i = first; i < first + count; i++) {
		struct outbox_message m = {t.id, t.name, argv[4], argv[5], argv[6], body};
		snprintf(body, sizeof(body),
			 "{\"device\":\"%s\",\"event\":\"%s\",\"seq\":%ld,\"decoded\":{\"temperature\":"
			 "%ld.5,\"note\":\"caf\\u00e9 \\\"quoted\\\"\"}}",
			 argv[5], argv[6], i, i % 40);
		if ((r = st->ops->begin(st, 1)) != 0 || (r = outbox_enqueue(st, &m)) != 0 ||
		    (r = st->ops->commit(st)) != 0) {
			fprintf(stderr, "test_outbox: message %ld: %s\n", i, iv_error_message(r));
			failed = 1;
			break;
		}
	}
out:
	store_close(st);
	free(path);
	config_free(&cfg);
	return failed;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signature_known_answer),
		cmocka_unit_test(test_url_rule),
		cmocka_unit_test_setup_teardown(test_fanout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mqtt_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bound_drops_oldest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_caller_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_cascades, setup, teardown),
		cmocka_unit_test_setup_teardown(test_heads_wait_for_backoff, setup, teardown),
		cmocka_unit_test(test_backoff_schedule),
		cmocka_unit_test_setup_teardown(test_configure_refuses_bad_prefix, setup, teardown),
	};
	if (argc > 1 && strcmp(argv[1], "--enqueue") == 0)
		return enqueue_main(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
