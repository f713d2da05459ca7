/* Internals shared by the outbox's files: the running workers and the
 * helpers of their threads. */
#ifndef IOTVAULT_OUTBOX_INTERNAL_H
#define IOTVAULT_OUTBOX_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "iotvault/http.h"
#include "iotvault/store.h"

struct outbox_workers {
	struct service *svc;
	atomic_int stopping;
	pthread_mutex_t wait_lock;
	pthread_cond_t wait_cond;
	struct mqtt_worker *mqtt;       /* NULL when MQTT is off */
	struct webhook_worker *webhook;
	pthread_t mqtt_thread, webhook_thread;
	int mqtt_started, webhook_started;
};

/* Sleeps up to MS milliseconds; returns 1 at once when the workers stop. */
int outbox_sleep(struct outbox_workers *w, int64_t ms);

/* Back-off before attempt ATTEMPTS+1: 1 s doubling, at most MAX_S seconds. */
int64_t outbox_backoff_ms(int attempts, int max_s);

/* Each worker: prepared on the starting thread (so that configuration errors
 * stop `serve`), run on its own thread with its own store connection. */
int mqtt_worker_new(struct outbox_workers *w, struct mqtt_worker **out) IV_WUR;
void *mqtt_worker_main(void *arg);
void mqtt_worker_free(struct mqtt_worker *m);

int webhook_worker_new(struct outbox_workers *w, struct webhook_worker **out) IV_WUR;
void *webhook_worker_main(void *arg);
void webhook_worker_free(struct webhook_worker *h);

/* Opens a second connection to the service's database for a worker. */
int outbox_store_open(const struct service *svc, struct store **out) IV_WUR;

#endif
