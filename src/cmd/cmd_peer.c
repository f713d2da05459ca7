/* `iotvault peer add|list|show|delete`: the network and application servers
 * that talk LoRaWAN Backend Interfaces to the join server, each with its KEK
 * (sealed in the vault) and its way of authenticating. */
#include "cmd/cli.h"
#include "iotvault/audit.h"
#include "iotvault/crypto.h"
#include "iotvault/hex.h"
#include "iotvault/peer_auth.h"
#include "iotvault/store_lorawan.h"
#include "iotvault/vault_lorawan.h"

#include <getopt.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <nettle/sha2.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"iotvault peer add --data DIR --name NAME --type ns|as --sender-id ID\n"
	"         [--tenant T] [--kek-label LABEL] [--kek SRC] [--client-cert PEM_FILE]\n"
	"         [--client-ca PEM_FILE [--client-cert-cn NAME]]\n"
	"         [--token generate|env:NAME] [--allow-plaintext]\n"
	"         [--receiver-unknown-code UnknownReceiver|UnknownReceiverID]\n"
	"       iotvault peer list --data DIR\n"
	"       iotvault peer show --data DIR --name NAME [--reveal-kek]\n"
	"       iotvault peer delete --data DIR --name NAME\n"
	"\n"
	"An ns peer's sender ID is its NetID (6 hex digits), an as peer's its AS-ID.\n"
	"The KEK (16 bytes) is generated unless --kek gives one (env:/file:/-), and\n"
	"is printed once by add (audited); the network server must be configured\n"
	"with it. A peer authenticates with its client certificate (pinned by\n"
	"SHA-256), a client certificate issued by its CA (--client-ca; with\n"
	"--client-cert-cn the certificate must carry that subject CN) or, for\n"
	"servers that cannot present one, a bearer token (printed once with\n"
	"--token generate). --allow-plaintext lets session keys go to the peer\n"
	"unwrapped when it has no KEK label; avoid it. Without --tenant the peer is\n"
	"installation-wide and answered for every tenant's devices; with it, only\n"
	"for that tenant's. --receiver-unknown-code sets how a wrong ReceiverID is\n"
	"answered to this peer (default UnknownReceiver).";

enum {
	OPT_DATA = 1, OPT_NAME, OPT_TYPE, OPT_SENDER, OPT_LABEL, OPT_KEK, OPT_CERT, OPT_TOKEN,
	OPT_PLAIN, OPT_REVEAL, OPT_HELP, OPT_TENANT, OPT_CA, OPT_CN, OPT_RECEIVER
};

static const struct option options[] = {
	{"data", required_argument, NULL, OPT_DATA},
	{"name", required_argument, NULL, OPT_NAME},
	{"type", required_argument, NULL, OPT_TYPE},
	{"sender-id", required_argument, NULL, OPT_SENDER},
	{"kek-label", required_argument, NULL, OPT_LABEL},
	{"kek", required_argument, NULL, OPT_KEK},
	{"client-cert", required_argument, NULL, OPT_CERT},
	{"token", required_argument, NULL, OPT_TOKEN},
	{"allow-plaintext", no_argument, NULL, OPT_PLAIN},
	{"reveal-kek", no_argument, NULL, OPT_REVEAL},
	{"tenant", required_argument, NULL, OPT_TENANT},
	{"client-ca", required_argument, NULL, OPT_CA},
	{"client-cert-cn", required_argument, NULL, OPT_CN},
	{"receiver-unknown-code", required_argument, NULL, OPT_RECEIVER},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

struct peer_opts {
	const char *data, *name, *type, *sender, *label, *kek, *cert, *token;
	const char *tenant, *ca, *cn, *receiver;
	int plain, reveal;
};

static int ident_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr("._:-", s[i])))
			return 0;
	return 1;
}

/* SHA-256 of the first certificate in a PEM file, as upper-case hex. */
static int cert_fingerprint(const char *path, char out[65])
{
	gnutls_datum_t pem = {NULL, 0}, der = {NULL, 0};
	gnutls_x509_crt_t crt = NULL;
	uint8_t digest[SHA256_DIGEST_SIZE];
	struct sha256_ctx ctx;
	int r = IV_ERR_INVALID;

	if (gnutls_load_file(path, &pem) < 0)
		return IV_ERR_IO;
	if (gnutls_x509_crt_init(&crt) >= 0 &&
	    gnutls_x509_crt_import(crt, &pem, GNUTLS_X509_FMT_PEM) >= 0 &&
	    gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der) >= 0) {
		sha256_init(&ctx);
		sha256_update(&ctx, der.size, der.data);
		sha256_digest(&ctx, sizeof(digest), digest);
		hex_encode_upper(digest, sizeof(digest), out);
		r = 0;
	}
	gnutls_free(der.data);
	gnutls_free(pem.data);
	gnutls_x509_crt_deinit(crt);
	return r;
}

/* The CA certificate(s) of a peer from a PEM file. */
static int load_client_ca(const char *path, char *out, size_t cap, char *err, size_t err_len)
{
	gnutls_datum_t pem = {NULL, 0};
	int r;
	if (gnutls_load_file(path, &pem) < 0) {
		snprintf(err, err_len, "cannot read %s", path);
		return IV_ERR_IO;
	}
	if (pem.size == 0 || pem.size >= cap || memchr(pem.data, '\0', pem.size) != NULL) {
		snprintf(err, err_len, "%s: PEM text of at most %zu bytes", path, cap - 1);
		r = IV_ERR_INVALID;
	} else {
		memcpy(out, pem.data, pem.size);
		out[pem.size] = '\0';
		r = peer_client_ca_check(out, err, err_len);
	}
	gnutls_free(pem.data);
	return r;
}

static const char *tenant_name(struct app *app, int64_t id, struct tenant *t)
{
	if (id == 0)
		return "(installation-wide)";
	return app->st->ops->tenant_get(app->st, id, t) == 0 ? t->name : "(unknown)";
}

static void print_peer(struct app *app, const struct peer_record *p)
{
	struct tenant t;
	printf("id: %lld\nname: %s\ntype: %s\ntenant: %s\nsender_id: %s\nkek_label: %s\n"
	       "client_cert_sha256: %s\nclient_ca: %s\nclient_cert_cn: %s\nbearer_token: %s\n"
	       "allow_plaintext: %s\nreceiver_unknown_code: %s\n",
	       (long long)p->id, p->name, p->kind, tenant_name(app, p->tenant_id, &t), p->sender_id,
	       p->kek_label, p->cert_sha256[0] ? p->cert_sha256 : "(none)",
	       p->client_ca[0] ? "set" : "(none)", p->client_cert_cn[0] ? p->client_cert_cn : "(any)",
	       p->has_token ? "set" : "(none)", p->allow_plaintext ? "yes" : "no",
	       p->receiver_unknown_code[0] ? p->receiver_unknown_code : "UnknownReceiver");
}

static int reveal_kek(struct app *app, const struct peer_record *p)
{
	struct secret_ref ref = {0, "peer", p->id, "kek"};
	struct secbuf *kek = NULL;
	char hex[2 * PEER_KEK_LEN + 1];
	int r = vault_reveal(app->v, &app->actor, &ref, &kek);
	if (r != 0)
		return r;
	hex_encode_upper(kek->data, kek->len, hex);
	secbuf_free(kek);
	printf("kek: %s\n", hex);
	fflush(stdout);
	secmem_wipe(hex, sizeof(hex));
	return 0;
}

static int do_add(struct app *app, const struct peer_opts *o)
{
	static struct peer_record p; /* 8 KiB of CA text: not on the stack */
	struct secbuf *kek = NULL;
	struct store *st = app->st;
	struct audit_event ev;
	char err[256], object[160], token[64] = "";
	uint8_t netid[3];
	int r, status, in_tx = 0;

	memset(&p, 0, sizeof(p));
	if (strcmp(o->type, "ns") == 0) {
		if (hex_decode_exact(o->sender, netid, sizeof(netid)) != 0)
			return cli_error(IV_ERR_INVALID, "--sender-id: an ns peer's NetID, 6 hex digits");
		hex_encode_upper(netid, sizeof(netid), p.sender_id);
	} else if (strcmp(o->type, "as") == 0) {
		if (!ident_ok(o->sender, PEER_SENDER_ID_MAX))
			return cli_error(IV_ERR_INVALID, "--sender-id: 1-%d characters of A-Z a-z 0-9 . _ : -",
					 PEER_SENDER_ID_MAX);
		snprintf(p.sender_id, sizeof(p.sender_id), "%s", o->sender);
	} else
		return cli_error(IV_ERR_INVALID, "--type: ns or as");
	snprintf(p.kind, sizeof(p.kind), "%s", o->type);
	if (!ident_ok(o->name, STORE_NAME_MAX))
		return cli_error(IV_ERR_INVALID, "--name: 1-%d characters of A-Z a-z 0-9 . _ : -",
				 STORE_NAME_MAX);
	snprintf(p.name, sizeof(p.name), "%s", o->name);
	if (o->label != NULL && o->label[0] != '\0' && !ident_ok(o->label, KEK_LABEL_MAX))
		return cli_error(IV_ERR_INVALID, "--kek-label: 1-%d characters of A-Z a-z 0-9 . _ : -",
				 KEK_LABEL_MAX);
	snprintf(p.kek_label, sizeof(p.kek_label), "%s", o->label ? o->label : o->name);
	if (p.kek_label[0] == '\0' && !o->plain)
		return cli_error(IV_ERR_INVALID, "an empty --kek-label means plaintext session keys: "
						 "add --allow-plaintext to mean it");
	p.allow_plaintext = o->plain;
	if (o->cert && (r = cert_fingerprint(o->cert, p.cert_sha256)) != 0)
		return cli_error(r, "--client-cert: %s is not a PEM certificate", o->cert);
	if (o->ca && (r = load_client_ca(o->ca, p.client_ca, sizeof(p.client_ca), err, sizeof(err))) != 0)
		return cli_error(r, "--client-ca: %s", err);
	if (o->cn) {
		if (!o->ca)
			return cli_error(IV_ERR_USAGE, "--client-cert-cn goes with --client-ca");
		if (o->cn[0] == '\0' || strlen(o->cn) > PEER_CERT_CN_MAX)
			return cli_error(IV_ERR_INVALID, "--client-cert-cn: 1-%d characters", PEER_CERT_CN_MAX);
		snprintf(p.client_cert_cn, sizeof(p.client_cert_cn), "%s", o->cn);
	}
	if (o->receiver) {
		if (strcmp(o->receiver, "UnknownReceiver") != 0 && strcmp(o->receiver, "UnknownReceiverID") != 0)
			return cli_error(IV_ERR_INVALID,
					 "--receiver-unknown-code: UnknownReceiver or UnknownReceiverID");
		snprintf(p.receiver_unknown_code, sizeof(p.receiver_unknown_code), "%s", o->receiver);
	}
	if (o->tenant) {
		struct tenant t;
		if ((status = cli_tenant(app, o->tenant, &t)) != 0)
			return status;
		p.tenant_id = t.id;
	}
	if (o->token) {
		struct sha256_ctx ctx;
		if (strcmp(o->token, "generate") == 0) {
			uint8_t raw[24];
			random_bytes(raw, sizeof(raw));
			sodium_bin2base64(token, sizeof(token), raw, sizeof(raw),
					  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
			secmem_wipe(raw, sizeof(raw));
		} else if (strncmp(o->token, "env:", 4) == 0 && getenv(o->token + 4) != NULL &&
			   strlen(getenv(o->token + 4)) >= 16 &&
			   strlen(getenv(o->token + 4)) < sizeof(token)) {
			snprintf(token, sizeof(token), "%s", getenv(o->token + 4));
		} else
			return cli_error(IV_ERR_INVALID, "--token: generate, or env:NAME holding 16 to %zu "
							 "characters",
					 sizeof(token) - 1);
		sha256_init(&ctx);
		sha256_update(&ctx, strlen(token), (const uint8_t *)token);
		sha256_digest(&ctx, sizeof(p.token_sha256), p.token_sha256);
		p.has_token = 1;
	}
	if (!p.cert_sha256[0] && !p.client_ca[0] && !p.has_token) {
		status = cli_error(IV_ERR_INVALID,
				   "a peer needs --client-cert, --client-ca or --token to authenticate");
		goto out;
	}
	if (o->kek && (r = key_source_read(o->kek, PEER_KEK_LEN, PEER_KEK_LEN, &kek, err, sizeof(err))) != 0) {
		status = cli_error(r, "--kek: %s", err);
		goto out;
	}
	if ((r = st->ops->begin(st, 1)) != 0) {
		status = cli_error(r, "%s", iv_error_message(r));
		goto out;
	}
	in_tx = 1;
	if ((r = st->ops->lorawan->peer_insert(st, &p)) != 0) {
		status = r == IV_ERR_EXISTS ? cli_error(r, "a peer with this name or sender ID exists")
					    : cli_error(r, "%s", iv_error_message(r));
		goto out;
	}
	if (kek) {
		struct secret_ref ref = {0, "peer", p.id, "kek"};
		r = vault_seal(app->v, &ref, kek->data, kek->len);
	} else
		r = vault_peer_kek_generate(app->v, p.id);
	snprintf(object, sizeof(object), "peer:%s", p.name);
	/* plaintext session keys for this peer are a decision worth finding later */
	ev = (struct audit_event){p.tenant_id, "peer.create", object, "success",
				  p.allow_plaintext ? (strcmp(p.kind, "ns") == 0 ? "ns allow_plaintext" : "as allow_plaintext") : p.kind};
	if (r != 0 || (r = audit_append(app->v, &app->actor, &ev)) != 0 ||
	    (r = st->ops->commit(st)) != 0) {
		status = cli_error(r, "%s", iv_error_message(r));
		goto out;
	}
	in_tx = 0;
	print_peer(app, &p);
	if ((r = reveal_kek(app, &p)) != 0) {
		status = cli_error(r, "peer created, but its KEK could not be shown: %s",
				   iv_error_message(r));
		goto out;
	}
	if (token[0] && strcmp(o->token, "generate") == 0)
		printf("bearer token: %s\n        (shown once; the peer sends it as Authorization: Bearer)\n",
		       token);
	/* success */
	status = 0;
out:
	if (in_tx)
		st->ops->rollback(st);
	secmem_wipe(token, sizeof(token));
	secbuf_free(kek);
	return status;
}

static int list_one(void *ctx, const struct peer_record *p)
{
	struct tenant t;
	printf("%lld\t%s\t%s\t%s\t%s\t%s\n", (long long)p->id, p->kind, p->name, p->sender_id,
	       p->kek_label, tenant_name(ctx, p->tenant_id, &t));
	return 0;
}

int cmd_peer(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL;
	struct peer_opts o = {0};
	static struct peer_record p;
	struct app app;
	int c, r, status;

	if (sub == NULL)
		return cli_usage(usage);
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0) {
		printf("usage: %s\n", usage);
		return 0;
	}
	if (strcmp(sub, "add") && strcmp(sub, "list") && strcmp(sub, "show") && strcmp(sub, "delete")) {
		cli_error(IV_ERR_USAGE, "unknown peer subcommand '%s'", sub);
		return cli_usage(usage);
	}
	optind = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "", options, NULL)) != -1) {
		switch (c) {
		case OPT_DATA: o.data = optarg; break;
		case OPT_NAME: o.name = optarg; break;
		case OPT_TYPE: o.type = optarg; break;
		case OPT_SENDER: o.sender = optarg; break;
		case OPT_LABEL: o.label = optarg; break;
		case OPT_KEK: o.kek = optarg; break;
		case OPT_CERT: o.cert = optarg; break;
		case OPT_TOKEN: o.token = optarg; break;
		case OPT_PLAIN: o.plain = 1; break;
		case OPT_REVEAL: o.reveal = 1; break;
		case OPT_TENANT: o.tenant = optarg; break;
		case OPT_CA: o.ca = optarg; break;
		case OPT_CN: o.cn = optarg; break;
		case OPT_RECEIVER: o.receiver = optarg; break;
		case OPT_HELP: printf("usage: %s\n", usage); return 0;
		default: return cli_usage(usage);
		}
	}
	if (optind != argc - 1)
		return cli_usage(usage);
	if (strcmp(sub, "list") != 0 && o.name == NULL)
		return cli_error(IV_ERR_USAGE, "--name NAME is required");
	if (strcmp(sub, "add") == 0 && (o.type == NULL || o.sender == NULL))
		return cli_error(IV_ERR_USAGE, "--type and --sender-id are required");
	if ((status = app_open(&app, cli_data_dir(o.data))) != 0)
		return status;
	if (strcmp(sub, "add") == 0) {
		status = do_add(&app, &o);
		goto out;
	}
	if (strcmp(sub, "list") == 0) {
		r = app.st->ops->lorawan->peer_list(app.st, list_one, &app);
		status = r ? cli_error(r, "%s", iv_error_message(r)) : 0;
		goto out;
	}
	if ((r = app.st->ops->lorawan->peer_get_by_name(app.st, o.name, &p)) != 0) {
		if (r == IV_ERR_NOT_FOUND)
			status = cli_error(r, "no peer named '%s'", o.name);
		else
			status = cli_error(r, "%s", iv_error_message(r));
		goto out;
	}
	if (strcmp(sub, "show") == 0) {
		print_peer(&app, &p);
		status = o.reveal && (r = reveal_kek(&app, &p)) != 0
				 ? cli_error(r, "kek: %s", iv_error_message(r))
				 : 0;
		goto out;
	}
	{
		struct store *st = app.st;
		struct audit_event ev;
		char object[160];
		snprintf(object, sizeof(object), "peer:%s", p.name);
		ev = (struct audit_event){p.tenant_id, "peer.delete", object, "success", p.kind};
		if ((r = st->ops->begin(st, 1)) == 0) {
			if ((r = audit_append(app.v, &app.actor, &ev)) != 0 ||
			    (r = st->ops->secret_delete_owner(st, "peer", p.id)) != 0 ||
			    (r = st->ops->lorawan->peer_delete(st, p.id)) != 0 ||
			    (r = st->ops->commit(st)) != 0)
				st->ops->rollback(st);
		}
		status = r ? cli_error(r, "%s",
				       r == IV_ERR_EXISTS ? "devices still name this peer" : iv_error_message(r))
			   : 0;
		if (r == 0)
			printf("deleted peer %s\n", p.name);
	}
out:
	app_close(&app);
	return status;
}
