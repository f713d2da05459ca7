/* Start and stop of the outbox's delivery threads (one for MQTT, one for
 * webhooks), their shared sleeping and back-off rules, and their own store
 * connections: SQLite in WAL mode lets them read and delete while the API
 * writes, so they never hold the service lock for store work. */
#include "iotvault/outbox.h"
#include "iotvault/config.h"
#include "iotvault/log.h"
#include "outbox/outbox_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct outbox_workers *running;

int outbox_sleep(struct outbox_workers *w, int64_t ms)
{
	struct timespec until;
	int stop;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)(ms / 1000);
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->wait_lock);
	while (!(stop = atomic_load(&w->stopping)))
		if (pthread_cond_timedwait(&w->wait_cond, &w->wait_lock, &until) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&w->wait_lock);
	return stop || atomic_load(&w->stopping);
}

int64_t outbox_backoff_ms(int attempts, int max_s)
{
	int64_t s = 1;
	for (int i = 1; i < attempts && s < max_s; i++)
		s *= 2;
	if (s > max_s)
		s = max_s;
	return s * 1000;
}

int outbox_store_open(const struct service *svc, struct store **out)
{
	char *path = config_path(&svc->cfg, svc->cfg.db_path);
	int r;
	if (path == NULL)
		return IV_ERR_NOMEM;
	r = store_sqlite_open(path, 0, svc->cfg.busy_timeout_ms, out);
	free(path);
	return r;
}

static void workers_free(struct outbox_workers *w)
{
	if (w == NULL)
		return;
	mqtt_worker_free(w->mqtt);
	webhook_worker_free(w->webhook);
	pthread_cond_destroy(&w->wait_cond);
	pthread_mutex_destroy(&w->wait_lock);
	free(w);
}

int outbox_workers_start(struct service *svc)
{
	struct outbox_workers *w = NULL;
	int r;

	if (running != NULL)
		return IV_ERR_INTERNAL;
	if ((r = outbox_configure(&svc->cfg)) != 0)
		return r;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return IV_ERR_NOMEM;
	w->svc = svc;
	atomic_init(&w->stopping, 0);
	if (pthread_mutex_init(&w->wait_lock, NULL) != 0) {
		free(w);
		return IV_ERR_INTERNAL;
	}
	if (pthread_cond_init(&w->wait_cond, NULL) != 0) {
		pthread_mutex_destroy(&w->wait_lock);
		free(w);
		return IV_ERR_INTERNAL;
	}
	if ((r = webhook_worker_new(w, &w->webhook)) != 0)
		goto fail;
	if ((r = mqtt_worker_new(w, &w->mqtt)) != 0)
		goto fail;
	if (pthread_create(&w->webhook_thread, NULL, webhook_worker_main, w->webhook) != 0) {
		r = IV_ERR_INTERNAL;
		goto fail;
	}
	w->webhook_started = 1;
	if (w->mqtt != NULL) {
		if (pthread_create(&w->mqtt_thread, NULL, mqtt_worker_main, w->mqtt) != 0) {
			r = IV_ERR_INTERNAL;
			goto fail;
		}
		w->mqtt_started = 1;
	}
	running = w;
	return 0;
fail:
	running = w;
	outbox_workers_stop(svc);
	return r;
}

void outbox_workers_stop(struct service *svc)
{
	struct outbox_workers *w = running;
	if (w == NULL || w->svc != svc)
		return;
	pthread_mutex_lock(&w->wait_lock);
	atomic_store(&w->stopping, 1);
	pthread_cond_broadcast(&w->wait_cond);
	pthread_mutex_unlock(&w->wait_lock);
	if (w->mqtt_started)
		pthread_join(w->mqtt_thread, NULL);
	if (w->webhook_started)
		pthread_join(w->webhook_thread, NULL);
	running = NULL;
	workers_free(w);
}
