/* `iotvault serve`: runs the HTTPS API until SIGTERM/SIGINT; SIGHUP reloads
 * the TLS certificate and key. */
#include "cmd/cli.h"
#include "iotvault/auth.h"
#include "iotvault/http.h"
#include "iotvault/log.h"
#include "iotvault/lwm2m.h"
#include "iotvault/lwm2m_rebootstrap.h"
#include "iotvault/outbox.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"iotvault serve --data DIR [--listen HOST:PORT] [--backend-listen HOST:PORT|off]\n"
	"\n"
	"Serves the HTTPS API (see docs/api.md) on [http] listen of the configuration,\n"
	"or HOST:PORT, and the join server's LoRaWAN Backend Interfaces listener on\n"
	"[backend] listen (off unless configured) or --backend-listen. SIGHUP reloads the TLS certificate and key; SIGTERM or SIGINT\n"
	"stops the server.";

enum { OPT_DATA = 1, OPT_LISTEN, OPT_BACKEND, OPT_HELP };

static const struct option options[] = {
	{"data", required_argument, NULL, OPT_DATA},
	{"listen", required_argument, NULL, OPT_LISTEN},
	{"backend-listen", required_argument, NULL, OPT_BACKEND},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

int cmd_serve(int argc, char **argv)
{
	const char *data = NULL, *listen = NULL, *backend_listen = NULL;
	struct service svc;
	struct http_server *srv = NULL, *backend = NULL;
	struct lwm2m_server *lwm2m = NULL;
	struct lwm2m_rebootstrap *rebootstrap = NULL;
	struct app app;
	sigset_t signals;
	int c, r, sig, status;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case OPT_DATA: data = optarg; break;
		case OPT_LISTEN: listen = optarg; break;
		case OPT_BACKEND: backend_listen = optarg; break;
		case OPT_HELP: printf("usage: %s\n", usage); return 0;
		default: return cli_usage(usage);
		}
	}
	if (optind != argc)
		return cli_usage(usage);
	/* the worker threads inherit this mask: only sigwait below sees them */
	sigemptyset(&signals);
	sigaddset(&signals, SIGHUP);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((status = app_open(&app, cli_data_dir(data))) != 0)
		return status;
	memset(&svc, 0, sizeof(svc));
	svc.cfg = app.cfg;
	svc.st = app.st;
	svc.v = app.v;
	pthread_mutex_init(&svc.lock, NULL);
	if (listen != NULL) {
		char *copy = strdup(listen);
		if (copy == NULL || !config_value_ok(listen)) {
			free(copy);
			status = cli_error(IV_ERR_USAGE, "--listen: HOST:PORT");
			goto out;
		}
		free(svc.cfg.http_listen);
		svc.cfg.http_listen = copy;
	}
	if (backend_listen != NULL) {
		char *copy = strdup(backend_listen);
		if (copy == NULL || !config_value_ok(backend_listen)) {
			free(copy);
			status = cli_error(IV_ERR_USAGE, "--backend-listen: HOST:PORT or off");
			goto out;
		}
		free(svc.cfg.backend_listen);
		svc.cfg.backend_listen = copy;
	}
	if ((r = auth_service_init(&svc)) != 0) {
		status = cli_error(r, "cannot start the authentication layer: %s", iv_error_message(r));
		goto out;
	}
	/* before the listeners: handlers may enqueue as soon as they run */
	if ((r = outbox_workers_start(&svc)) != 0) {
		status = cli_error(r, "cannot start the MQTT and webhook delivery: %s",
				   iv_error_message(r));
		goto out;
	}
	if ((r = http_server_start(&svc, &srv)) != 0) {
		status = cli_error(r, "cannot start the HTTPS server: %s", iv_error_message(r));
		goto out;
	}
	if (strcmp(svc.cfg.backend_listen, "off") != 0 &&
	    (r = http_backend_start(&svc, &backend)) != 0) {
		status = cli_error(r, "cannot start the backend-interfaces listener on %s: %s",
				   svc.cfg.backend_listen, iv_error_message(r));
		goto out;
	}
	if ((r = lwm2m_server_start(&svc, &lwm2m)) != 0) {
		status = cli_error(r, "cannot start the LwM2M server: %s", iv_error_message(r));
		goto out;
	}
	if (lwm2m != NULL && (r = lwm2m_rebootstrap_start(&svc, &rebootstrap)) != 0) {
		status = cli_error(r, "cannot start the LwM2M re-bootstrap scheduler: %s",
				   iv_error_message(r));
		goto out;
	}
	printf("iotvault %s serving https://%s\n", IOTVAULT_VERSION, svc.cfg.http_listen);
	if (backend)
		printf("join server (LoRaWAN Backend Interfaces) on https://%s\n",
		       svc.cfg.backend_listen);
	if (lwm2m)
		printf("LwM2M DM server on %s, bootstrap server on %s (DTLS), NoSec %s\n",
		       svc.cfg.lwm2m_dm_listen, svc.cfg.lwm2m_bootstrap_listen, svc.cfg.lwm2m_nosec);
	fflush(stdout);
	for (;;) {
		if (sigwait(&signals, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			if (http_server_reload_tls(srv) != 0)
				log_error("SIGHUP: certificate reload failed; still serving the old one");
			continue;
		}
		log_info("signal %d: stopping", sig);
		break;
	}
	/* success */
	status = 0;
out:
	lwm2m_server_stop(lwm2m);
	lwm2m_rebootstrap_stop(rebootstrap);
	http_server_stop(backend);
	http_server_stop(srv);
	outbox_workers_stop(&svc);
	auth_service_free(&svc);
	pthread_mutex_destroy(&svc.lock);
	app.cfg = svc.cfg; /* --listen may have replaced a string */
	app_close(&app);
	return status;
}
